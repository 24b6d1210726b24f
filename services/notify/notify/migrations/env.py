from notify.models import Base
from parley_common.alembic_env import run

run(Base.metadata, "sqlite+aiosqlite:///var/notify.db")
