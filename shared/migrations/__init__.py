"""The shared Alembic environment (env.py, script.py.mako); see shared/migrate.py.

Each service keeps its own revisions in services/<name>/adapters/migrations/versions/.
"""
