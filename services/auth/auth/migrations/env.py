from auth.config import Settings
from auth.models import Base
from parley_common.alembic_env import run

run(Base.metadata, Settings().database_url)
