"""The licence and address of each population source, to credit them as the districts' own.

A district's population names its source by a line of text ("INSEE, populations légales
2023"): statistics credited it with no licence and no link, while the district datasets beside
it had both. Each source now has a row of its own, written by the imports that name it. Rows
are few, and a change of one is a change of the statistics' credits (their data version moves).

The catalogue's French files carry INSEE's populations, republished under the Licence Ouverte:
a database holding them gets that source's row here.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041"
down_revision: str | Sequence[str] | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSEE_2023 = {
    "name": "INSEE, populations légales 2023",
    "licence": "Licence Ouverte / Etalab 2.0",
    "source_url": "https://www.insee.fr/fr/statistiques/8680726",
}


def upgrade() -> None:
    op.create_table(
        "population_sources",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(
        "CREATE TRIGGER population_sources_record_statistics_change "
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON population_sources "
        "FOR EACH STATEMENT EXECUTE FUNCTION record_statistics_change()"
    )
    op.execute(
        sa.text(
            "INSERT INTO population_sources (name, licence, source_url) "
            "SELECT :name, :licence, :source_url "
            "WHERE EXISTS (SELECT FROM districts WHERE population_source = :name)"
        ).bindparams(**INSEE_2023)
    )


def downgrade() -> None:
    # Emptied first: its trigger records the change, so that no statistic kept since goes on
    # crediting the sources' licences.
    op.execute("TRUNCATE population_sources")
    op.drop_table("population_sources")
