"""A small demo community, seeded into an empty database so `make run` shows the flow."""

from __future__ import annotations

from datetime import datetime

from core.config import WorkflowConfig
from core.ids import chat_ref
from core.ports import Store
from gateway.people import import_people

DEMO_GRID = "幸福里1号网格"
DEMO_CSV = f"""\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of
李建国,grid_leader,{DEMO_GRID},3栋,zh,,13800000001,3栋1单元101,,,,
张慧,care_lead,{DEMO_GRID},,zh,,13800000002,社区服务站,,,,
王秀英,resident,{DEMO_GRID},3栋,zh,,13800000011,3栋2单元402,,,,
陈德福,resident,{DEMO_GRID},3栋,zh,,13800000012,3栋1单元201,,,,
刘桂兰,resident,{DEMO_GRID},5栋,zh,,13800000013,5栋3单元602,,,,
Wang Xiaoming,family,,,en,,13900000021,,,,,王秀英
"""


async def seed_demo(store: Store, config: WorkflowConfig, now: datetime) -> int:
    """Import the demo people and reach each of them on the local web chat."""
    count = await import_people(store, config, DEMO_CSV, now, file="demo community")
    async with store.transaction() as tx:
        for person in await tx.people():
            await tx.bind_identity(
                person.id, "local", str(person.id), chat_ref("local", person.id), now
            )
    return count
