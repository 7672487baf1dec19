"""An application that never loads: importing it raises ImportError."""

raise ImportError('apwsgi-test: interp4_broken fails to import on purpose')
