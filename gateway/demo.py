"""A small demo community, seeded into an empty database so `make run` shows the flow."""

from __future__ import annotations

from datetime import datetime

from core.config import WorkflowConfig
from core.ids import chat_ref
from core.ports import Store
from gateway.people import COLUMNS, PERSON_COLUMNS, import_people

DEMO_GRID = "幸福里1号网格"
_NO_IDS = "," * (len(COLUMNS) - len(PERSON_COLUMNS))
# Nobody has a chat platform identity: everyone is reached on the local web chat.
DEMO_CSV = f"""\
{",".join(COLUMNS)},family_of
李建国,grid_leader,{DEMO_GRID},3栋,zh,,13800000001,3栋1单元101,{_NO_IDS},
张慧,care_lead,{DEMO_GRID},,zh,,13800000002,社区服务站,{_NO_IDS},
王秀英,resident,{DEMO_GRID},3栋,zh,,13800000011,3栋2单元402,{_NO_IDS},
陈德福,resident,{DEMO_GRID},3栋,zh,,13800000012,3栋1单元201,{_NO_IDS},
刘桂兰,resident,{DEMO_GRID},5栋,zh,,13800000013,5栋3单元602,{_NO_IDS},
Wang Xiaoming,family,,,en,,13900000021,,{_NO_IDS},王秀英
"""


async def seed_demo(store: Store, config: WorkflowConfig, now: datetime, platform: str) -> int:
    """Import the demo people and reach each of them on `platform` (the local web
    chat), at the address of their person id."""
    count = await import_people(store, config, DEMO_CSV, now, file="demo community")
    async with store.transaction() as tx:
        for person in await tx.people():
            await tx.bind_identity(
                person.id, platform, str(person.id), chat_ref(platform, person.id), now
            )
    return count
