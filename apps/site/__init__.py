"""The static site: the lab, the playground and the notebooks, with Python in a Web Worker.

``python -m apps.site.build OUT`` writes the site (``make site``: ``build/site``);
``python -m apps.site.serve`` serves it on 127.0.0.1 (``make serve-site``). See docs/site.md.
"""
