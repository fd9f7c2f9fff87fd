"""The output layer: every command's result, in every format the command declares, rendered in
one place (text and Markdown through templates in ``templates/output/``, JSON as documented
shapes). Commands never format text themselves; the CLI refuses a format a command does not
declare, listing the valid ones. A command's renderers are imported when it renders.

>>> formats("apply")
('text', 'json')
"""

from reconciler.output.registry import check_format, formats, render_result

__all__ = ["check_format", "formats", "render_result"]
