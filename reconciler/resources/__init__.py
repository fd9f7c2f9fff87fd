"""Every kind of object pgrecon manages, one package each (``resources/<kind>/``: its part of the
spec, its read, its pure diff, its changes and its export), the protocol they implement
(:mod:`.base`), the spec assembled from their parts (:mod:`.document`) and the registry the engine
iterates (:mod:`.registry`)."""
