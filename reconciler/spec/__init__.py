"""The spec's core: building blocks of every kind's part (:mod:`.types`), the sections every kind
shares (:mod:`.target`, :mod:`.operations`) and YAML documents into located problems
(:mod:`.loader`). The spec itself is assembled in :mod:`reconciler.resources.document`."""
