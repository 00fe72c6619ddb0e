"""The PostgreSQL backend: one reference store shared by a team (``provcheck[postgres]``).

``schema`` holds the SQL and its migrations, ``connection`` the driver and its errors,
``opening`` the refusal of foreign databases and the migrations, ``reads``/``writes``/``search``
the ``Store`` interface, and ``mirror*`` the scanner's local, incrementally synced copy of the
search arrays. Nothing here imports psycopg until a ``postgresql://`` location is opened.
"""
