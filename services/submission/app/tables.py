"""The service's own write-side table: submission ids are unique across reports."""
from sqlalchemy import Column, Integer, MetaData, String, Table

write_side = MetaData()

submission_ids = Table(
    "submission_ids", write_side,
    Column("submission_id", String(100), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("institution_id", String(100), nullable=False),
)
