"""One module per ``watchfloor`` sub-command; each has ``register(subparsers)`` and ``run(args)``.

``register`` adds the sub-command's parser and sets ``func=run`` on it. Keeping each command in
its own module keeps the console, the feeds and the collector out of each other's imports: a
headless command never imports Textual.
"""
