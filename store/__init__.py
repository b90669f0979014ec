"""State store: SQLAlchemy models, sessions and Alembic migrations."""
