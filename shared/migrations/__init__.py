"""The shared Alembic environment (env.py, script.py.mako) and the backbone's revisions
(backbone/); see shared/migrate.py.

Each service keeps its own revisions in services/<name>/adapters/migrations/versions/.
"""
