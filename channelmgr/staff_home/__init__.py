"""The staff home: the admin's index page, answering "is everything all right, and if not, what do I do?"

``site.py`` is the admin site (the home as its index; a "System" section only superusers see),
``selectors.py`` the reads behind the page, ``views.py`` the page, its JSON figures and its actions.
"""
