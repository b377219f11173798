"""expected round-robin deals and their variance from route's pools

Revision 0006, after 0005.

Per (day, team, owner): Σ p and Σ p(1 − p) over the round-robin deals whose pool (LeadRouted
``assignment.pool``) held the owner, p = its weight ÷ the pool's weights. Rows written before it count 0
(older events carry no pool): Team load falls back to the weight share for a rep without variance."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ops_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("variance", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("ops_assignments", schema=None) as batch_op:
        batch_op.drop_column("variance")
        batch_op.drop_column("expected")
