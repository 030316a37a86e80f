"""Chinese texts (the default language). Placeholders in braces are filled in."""

TEXTS: dict[str, str] = {
    "checkin": "{name}，您好！今天身体还好吗？点一下下面的按钮，或者随便回一句话就行。",
    "reminder": "{name}，还没收到您的回复。请点一下“我很好”，或者回任何一句话。",
    "btn_ok": "✅ 我很好",
    "btn_help": "🆘 需要帮助",
    "recorded_ok": "—— 已记录：您很好（{time}）。谢谢！",
    "recorded_help": "—— 已记录：需要帮助（{time}）。",
    "thanks": "收到，谢谢！祝您今天愉快。",
    "help_on_the_way": "已经通知{leader}，马上会有人联系您。",
    "help_on_the_way_nobody": "已经通知社区，马上会有人联系您。",
    "alert_missed": "⚠️ 未回复问候 #{alert}\n{name}（{place}）\n电话：{phone}\n{due}的问候，{deadline}前没有回复。",
    "alert_help": "🆘 求助 #{alert}\n{name}（{place}）\n电话：{phone}\n{time}：{said}",
    "alert_unreachable": "⚠️ 联系不上 #{alert}\n{name}（{place}）\n电话：{phone}\n{time} 消息发不出去（{reason}）。",
    "alert_exhausted": "❗ #{alert} {name}（{place}）的提醒无人确认，已通知到最后一步。",
    "alert_footer_open": "请点“我来处理”，处理完后点“关闭”。",
    "alert_footer_acked": "—— {who} 已确认（{time}），正在处理。",
    "alert_footer_resolved": "—— {who} 已关闭（{time}）：{outcome}",
    "alert_footer_stand_down": "—— {name} 已在 {time} 回复，无需再处理。谢谢！",
    "btn_ack": "👀 我来处理",
    "btn_resolve": "✅ 关闭",
    "choose_outcome": "#{alert} {name}：请选择处理结果：",
    "outcome_ok": "平安无事",
    "outcome_visited": "已上门探望",
    "outcome_hospital": "已送医",
    "outcome_unreachable": "仍联系不上",
    "outcome_late_answer": "本人已回复",
    "acked": "好的，#{alert} 由您处理。",
    "resolved": "#{alert} 已关闭：{outcome}",
    "already_acked": "#{alert} 已由 {who} 确认。",
    "already_resolved": "#{alert} 已经关闭了。",
    "not_allowed": "这个按钮不是给您的，或者您没有权限处理这条提醒。",
    "stale_button": "这个按钮已经用过或已过期。",
    "unknown_alert": "找不到提醒 #{alert}。",
    "alerts_none": "您负责的网格现在没有未处理的提醒。",
    "alerts_header": "未处理的提醒：",
    "alerts_line": "#{alert} {name}（{place}）{reason}，{state}",
    "state_open": "待确认",
    "state_acknowledged": "{who}处理中",
    "reason_missed": "未回复",
    "reason_help": "求助",
    "reason_unreachable": "联系不上",
    "usage_ack": "用法：/ack 编号",
    "usage_resolve": "用法：/resolve 编号 结果（ok、visited、hospital、unreachable 或一句话）",
    "welcome_resident": "{name}，您好！我是社区关爱助手。每天{when}我会问候您一次，点一下按钮或回一句话就行。需要帮助时，随时发“救命”或“帮帮我”。",
    "welcome_responder": "{name}，您好！您已登记为{role}。有居民未回复或求助时，我会通知您。可用命令：/alerts 查看提醒，/ack 编号 确认，/resolve 编号 结果 关闭。",
    "welcome_team": "已绑定到团队“{team}”。",
    "invite_invalid": "这个邀请码无效、已经用过或已过期。请向社区工作人员要一个新的。",
    "not_enrolled": "您好！请先用社区发给您的邀请链接或邀请码登记。",
    "help_resident": "每天我会问候您一次，点“我很好”或随便回一句话就行。需要帮助时发“救命”或点“需要帮助”。缺药、缺菜等需要时发 /need 药 说明（或 /need 买菜 说明）。发 /stop 可以停止每日问候。外出或住院时发 /away 5d 原因，回来发 /back。",
    "help_responder": "命令：/alerts 查看提醒；/ack 编号 确认；/resolve 编号 结果 关闭（结果：ok、visited、hospital、unreachable 或一句话）。需求：/need 姓名 类别 说明 代为登记；/claim 编号 认领；/done 编号 办好。探访：/visited 姓名 ok 或 /visited 姓名 concern 情况。外出：/away 3d 原因（替居民：/away 姓名 5d 住院），回来 /back。/summary 今日小结。",
    "stopped": "好的，以后不再每天问候您。需要帮助时仍可随时发消息。想恢复时发 /start。",
    "restarted": "好的，每日问候已恢复。",
    "stop_notice": "ℹ️ {name}（{place}）已停止每日问候。",
    "role_grid_leader": "网格长",
    "role_care_lead": "关爱组负责人",
    "role_family": "家属",
    "role_team_member": "团队成员",
    "role_caller": "电话关爱员",
    "role_operator": "社区工作人员",
    "role_resident": "居民",
    # Asked when the sensors at home have been silent for the plan's ping_every.
    "ping_question": "{name}，今天还好吗？家里的水表今天没有动静。点一下下面的按钮，或者随便回一句话就行。",
}

# The dashboard and the local web chat (operators and trainers read these).
UI: dict[str, str] = {
    "title": "carecheck 关爱守护",
    "today": "今日问候",
    "grid": "网格",
    "pending": "待回复",
    "answered": "已回复",
    "reminded": "已提醒",
    "alerted": "已报警",
    "help": "求助",
    "open_alerts": "未关闭的提醒",
    "none": "无",
    "resident": "居民",
    "reason": "原因",
    "state": "状态",
    "opened": "开始",
    "start_round": "立即发起一轮问候",
    "round_started": "已发起问候：{count} 位居民",
    "outbox": "待发送消息",
    "chat_title": "本地聊天（演示/培训）",
    "chat_pick": "选择一个人，扮演他/她使用聊天：",
    "chat_send": "发送",
    "chat_placeholder": "输入消息…",
    "chat_back": "← 选择其他人",
    "chat_intro": "这里模拟 {name} 的聊天窗口（{role}）。",
    "dashboard": "总览",
}

TEXTS["invite_card_hint"] = "用手机扫码，在 Telegram 里点“开始”；或把下面的邀请码发给机器人"
TEXTS["invite_matrix"] = "Matrix：和 {bot} 开始私聊，发送 !link {code}"

TEXTS.update(
    {
        "need_posted": "📋 需求 #{need}：{kind}\n{name}（{place}）电话：{phone}\n{text}\n登记人：{by}",
        "need_footer_open": "请点“我来办”认领，办好后点“已办好”。",
        "need_footer_claimed": "—— {who} 已认领（{time}）",
        "need_footer_done": "—— {who} 已办好（{time}）",
        "need_footer_cancelled": "—— {who} 已取消（{time}）",
        "need_recorded": "已记录需求 #{need}（{kind}），已转给{team}。",
        "need_claimed": "好的，需求 #{need} 由您来办。",
        "need_done": "需求 #{need} 已办好，谢谢！",
        "need_already": "需求 #{need} 已经是“{state}”了。",
        "need_unknown": "找不到需求 #{need}。",
        "need_not_allowed": "您不能处理这条需求。",
        "usage_need": "用法：/need 类别 说明（类别：药品、买菜、洗澡、维修、陪伴、看病、其他）；网格长代登记：/need 姓名 类别 说明",
        "btn_claim": "🙋 我来办",
        "btn_done": "✔️ 已办好",
        "team_grid_leader": "网格长",
        "kind_medicine": "药品",
        "kind_groceries": "买菜/生活用品",
        "kind_personal_care": "生活照料",
        "kind_repair": "维修",
        "kind_companionship": "陪伴聊天",
        "kind_medical": "看病就医",
        "kind_other": "其他",
        "need_state_open": "待认领",
        "need_state_claimed": "办理中",
        "need_state_done": "已办好",
        "need_state_cancelled": "已取消",
    }
)

# Alerts people can act on without looking anything up; every message answered.
TEXTS.update(
    {
        "alert_missed": "⚠️ 未回复问候 #{alert}\n{name}（{place}）\n{due}的问候，{deadline}前没有回复。",
        "alert_help": "🆘 求助 #{alert}\n{name}（{place}）\n{time}：“{said}”",
        "alert_unreachable": "⚠️ 联系不上 #{alert}\n{name}（{place}）\n{time} 消息发不出去（{reason}）。",
        "alert_concern": "❓ 需要关注 #{alert}\n{name}（{place}）\n{time}说：“{said}”\n问过是否需要有人来看看，没有回答。",
        "reason_concern": "需要关注",
        "alert_now_urgent": "🆘 已升级为紧急求助",
        "alert_misses_in_a_row": "⚠️ 连续第{count}次未回复",
        "alert_details": "地址：{address}\n电话：{phone}\n家属：{family}\n最后联系：{last_heard}\n近7天未回复：{missed}次",
        "never": "从未",
        "minutes_ago": "{n}分钟前",
        "hours_ago": "{n}小时前",
        "days_ago": "{n}天前",
        "alert_step_unreachable": "⚠️ {role}{names}联系不上（没有登记聊天或消息发不到），已直接转给下一位。",
        "alert_resident_said": "💬 {name}说：“{text}”",
        "alert_note": "📝 {who}：{text}",
        "alert_superseded": "（#{alert} 有更新，请看下面最新的一条。）",
        "alert_still_unresolved": "❗ #{alert} 仍未解决，请尽快处理。",
        "note_added": "已记到 #{alert} 上，所有收到这条提醒的人都能看到。",
        "help_contacting": "正在联系{who}，请保持电话畅通。情况危急请直接拨打 120。",
        "help_contacting_community": "正在联系社区工作人员，请保持电话畅通。情况危急请直接拨打 120。",
        "help_delivered": "{who}已收到您的求助，马上会有人联系您。",
        "concern_question": "{name}，需要有人来看看您吗？",
        "btn_concern_yes": "🆘 是，请来人",
        "btn_concern_no": "🙂 不用，我没事",
        "concern_dismissed": "好的，请多保重。有需要随时告诉我。",
        "concern_escalated": "没等到您的回答，我们请社区的人联系您一下。",
        "concern_answered": "—— 已回答（{time}）",
        "noted": "收到，谢谢您！",
        "unknown_command": "没有这个命令。",
        "responder_hint": "要在提醒上留言，请“回复”那条提醒消息。命令：/alerts 查看提醒，/ack 编号 确认，/resolve 编号 结果 关闭，/help 全部命令。",
        "checkin_emergency": "【紧急问候】{name}，您好！社区正在确认大家是否平安，请点一下按钮或回一句话。",
        "team_grid_leader": "网格长{name}",
        "need_recorded": "已记录需求 #{need}（{kind}），已转给{team}。",
        "grid_unreachable": "⚠️ 网格 {grid} 没有能联系上的网格长：有人求助或没回复时，提醒会直接转给下一位。",
        "identity_taken": "这个聊天账号已经登记为“{other}”。为了不让{other}收不到消息，这次没有改动。如确需更换，请联系社区工作人员。",
        "identity_moved_notice": "⚠️ {name}已没有可联系的聊天账号（{why}），每日问候和提醒到不了，请尽快联系。",
        "invite_already_bound": "{name}已经登记过这个聊天账号了。",
    }
)

UI.update(
    {
        "grid_without_leader": "⚠️ 网格 {grid} 没有已登记聊天的网格长：这里的提醒会直接转给下一位。请尽快邀请网格长登记。",
        "round_started": "已发起问候：{count} 位居民",
        "round_result": "已发起问候：{count} 位居民；{skipped} 位本轮已问过，跳过。",
        "round_deferred": "现在是免打扰时段，问候将在 {time} 发出。紧急情况请用“紧急问候”。",
        "start_emergency_round": "紧急问候（免打扰时段也发送）",
        "emergency_confirm": "确定现在就给所有人发紧急问候吗？免打扰时段也会发出。",
    }
)
UI.update({"chat_reply": "↩ 回复", "chat_replying": "回复："})
TEXTS.update({"last_heard_at": "{time}（{ago}）", "list_separator": "；"})
# A family contact on an alert: with their relation to the resident when it is known.
TEXTS.update(
    {"family_contact": "{name} {phone}", "family_contact_relation": "{name}（{relation}）{phone}"}
)
TEXTS.update({"why_left_chat": "退出了聊天或屏蔽了机器人"})

# The web console (gateway/web): labels and messages of its pages.
UI.update(
    {
        "brand": "carecheck 关爱守护",
        "nav": "主菜单",
        "nav_today": "今日",
        "nav_needs": "需求",
        "nav_people": "人员",
        "nav_week": "本周",
        "nav_settings": "设置",
        "nav_chat": "本地聊天",
        "open_console": "本机（未设账号）",
        "logout": "退出登录",
        "login": "登录",
        "login_title": "登录",
        "username": "用户名",
        "password": "密码",
        "login_failed": "用户名或密码不对。",
        "login_throttled": "登录失败次数太多，已暂停登录。请在 {minutes} 分钟后（{time} 以后）再试，或请管理员用 carecheck users passwd 重设密码。",
        "login_no_accounts": "还没有任何账号。请在服务器上创建管理员账号：carecheck users add 用户名 --role operator --password-stdin",
        "login_open_here": "在本机直接打开（未设账号时）",
        "login_chat_hint": "网格长也可以在聊天里给机器人发 /web，点收到的链接即可登录（10 分钟内有效，只能用一次）。",
        "link_confirm": "点下面的按钮登录。这个链接只能用一次。",
        "link_invalid": "这个登录链接无效、已经用过或已过期（10 分钟）。请在聊天里再发一次 /web。",
        "today": "今日问候",
        "search": "查找",
        "search_hint": "姓名或楼栋",
        "all_grids": "全部网格",
        "all_states": "全部状态",
        "filter_problems": "只看有问题的",
        "state_help": "求助",
        "state_alerted": "已报警",
        "state_unreachable": "联系不上",
        "state_missed": "未回复",
        "state_reminded": "已提醒",
        "state_pending": "待回复",
        "state_none": "还没问候过",
        "state_paused": "已暂停",
        "state_away": "外出",
        "state_answered": "已回复",
        "residents_shown": "显示 {shown} / {total} 位居民",
        "alert_no": "提醒 #{n}",
        "last_heard": "最后联系",
        "checkin": "问候",
        "next_checkin": "下次",
        "needs_open": "{n} 项需求",
        "not_enrolled": "未登记聊天",
        "no_residents": "没有符合条件的居民。",
        "per_grid": "各网格今日统计",
        "day_today": "今天",
        "day_tomorrow": "明天",
        "day_yesterday": "昨天",
        "just_now": "刚刚",
    }
)

# `/web`: a login link into the web console.
TEXTS.update(
    {
        "web_link": "点这个链接登录管理网页（{minutes} 分钟内有效，只能用一次，请勿转发）：\n{link}",
        "web_no_account": "您还没有管理网页的账号。请社区工作人员用 carecheck users add … --person 您的姓名 创建。",
        "web_not_in_groups": "为了安全，登录链接只在和机器人的私聊里发送。请私聊机器人发 /web。",
    }
)

# The web console: an alert's page.
UI.update(
    {
        "system": "系统",
        "tl_opened": "提醒开始：{reason}",
        "tl_notified": "通知{role}{who}（第 {step} 步，{platform}）",
        "delivery_sent": "已送达 {time}",
        "delivery_failed": "发送失败：{error}",
        "delivery_replaced": "已被更新的一条取代",
        "delivery_pending": "等待发送（已失败 {tries} 次）",
        "delivery_unknown": "发送情况不明",
        "tl_note": "{who} 留言",
        "tl_alert_step_empty": "这一步没有可通知的人，直接转给下一步",
        "tl_alert_exhausted": "所有步骤都已通知，仍无人确认",
        "tl_alert_still_unresolved": "仍未解决，已再次通知",
        "tl_alert_stand_down": "本人已回复，提醒自动关闭",
        "tl_timer_late": "网关停机后补发（晚了）",
        "tl_acknowledged": "{who} 确认：我来处理",
        "tl_resolved": "{who} 关闭：{outcome}",
        "next_step": "{time} 通知下一步（{role}）",
        "act_title": "处理",
        "act_viewer": "只读账号不能处理提醒。",
        "act_no_person": "这个账号没有关联到具体的人，不能在网页上处理提醒（请用 carecheck users add … --person 姓名 关联）。",
        "act_not_allowed": "您关联的人不负责这位居民，不能处理这条提醒。",
        "alert_state_open": "待确认",
        "alert_state_acknowledged": "处理中",
        "alert_state_resolved": "已关闭",
        "place": "住址",
        "phone": "电话",
        "family": "家属",
        "step": "进度",
        "step_of": "已通知 {position} / {total} 步",
        "resolve_with": "处理完后选择结果并关闭：",
        "outcome_other": "其他结果（一句话）",
        "resolve_other": "按上面这句话关闭",
        "note": "留言（所有收到提醒的人都能看到）",
        "add_note": "添加留言",
        "timeline": "经过",
    }
)

# The web console: a person's page.
UI.update(
    {
        "last_30_days": "最近 30 天",
        "cal_answered": "已回复",
        "cal_late": "迟回复",
        "cal_missed": "未回复",
        "cal_help": "求助",
        "cal_pending": "待回复",
        "cal_away": "外出",
        "cal_none": "",
        "wd_0": "一",
        "wd_1": "二",
        "wd_2": "三",
        "wd_3": "四",
        "wd_4": "五",
        "wd_5": "六",
        "wd_6": "日",
        "contacts": "联系方式",
        "address": "地址",
        "language": "语言",
        "family_of": "家属对象",
        "relation": "与居民的关系（如 女儿）",
        "contact": "怎样问候（chat 聊天 / phone 电话）",
        "caller": "打电话的人",
        "deputy": "外出时的代班人",
        "reached_by": "聊天与问候计划",
        "platform_off": "本网关未启用这个平台",
        "enrolled_yes": "已登记聊天，能收到问候和提醒。",
        "enrolled_no": "还没有登记可用的聊天账号：收不到问候和提醒。请打印邀请卡。",
        "plan": "问候计划",
        "reply_window": "回复时限",
        "minutes": "分钟",
        "escalation": "报警流程",
        "messages": "最近的消息",
        "edit": "修改资料",
        "pause": "暂停问候",
        "resume": "恢复问候",
        "mark_left": "已搬走/不再关照",
        "came_back": "恢复关照",
        "left_confirm": "确定 {name} 已不再需要关照吗？记录会保留，以后可以恢复。",
        "person_paused": "已暂停：不再发送每日问候。",
        "person_left": "已不再关照：记录保留，不再问候，也不在今日列表中。",
        "paused_on": "已暂停 {name} 的问候（已发出的这一次照常进行）。",
        "paused_off": "已恢复 {name} 的问候。",
        "left_on": "{name} 已标记为不再关照，记录已保留。",
        "left_off": "已恢复关照 {name}。",
    }
)

# The web console: needs.
UI.update(
    {
        "needs_title": "需求（按团队）",
        "needs_col_open": "待认领",
        "needs_col_claimed": "办理中",
        "needs_col_closed": "最近办好/取消",
        "needs_empty": "现在没有需求。",
        "team_none": "网格长（没有团队负责的类别）",
        "claimed_by": "{who} 认领",
    }
)

# The web console: people, adding, editing, importing.
UI.update(
    {
        "people_title": "人员",
        "role": "身份",
        "all_roles": "全部身份",
        "add_person": "添加人员",
        "invitations": "打印邀请卡",
        "export_csv": "导出 CSV",
        "export_excel": "导出给 Excel（带 BOM）",
        "import_title": "导入人员表（CSV）",
        "import_hint": "先预览，确认后才写入。可以是 UTF-8、带 BOM 的 UTF-8，或 GB18030/GBK（中文 Windows 上的 Excel 默认）。",
        "csv_file": "CSV 文件",
        "import_preview": "上传并预览",
        "left_short": "已不再关照",
        "name": "姓名",
        "building": "楼栋",
        "timezone": "时区",
        "form_problems": "请改正以下问题：",
        "form_hint": "姓名用来对应每一行，保存后不能在这里修改。聊天账号只会添加，不会在这里删除。",
        "save": "保存",
        "saved": "已保存 {name}。",
        "name_taken": "已经有人叫“{name}”了（姓名必须唯一，可以加上楼栋，例如 王秀英(3栋)）。",
        "read_as": "{file}：按 {encoding} 读取。",
        "to_add": "新增",
        "to_update": "修改",
        "unchanged": "不变",
        "problems": "问题",
        "problems_by_line": "各行的问题",
        "nothing_imported": "有问题时一行也不会导入。请改好文件后重新上传。",
        "line": "行",
        "problem": "问题",
        "changes": "改动的列",
        "back_to_people": "返回人员列表",
        "confirm_import": "确认无误后导入。",
        "import_now": "确认导入",
        "cancel": "取消",
        "imported": "已导入 {count} 人。",
    }
)

# The web console: invitation sheets.
UI.update(
    {
        "invite_hint": "每人一张 A6 卡片（一张 A4 纸 4 张），有姓名、二维码和邀请码。每次打印都会生成新的邀请码。",
        "invite_grid": "整个网格",
        "invite_chosen": "选中的人",
        "only_unenrolled": "只给还没登记聊天的人",
        "make_sheet": "生成可打印的邀请卡",
        "enrolled_short": "已登记",
        "sheet_title": "邀请卡（{count} 张）",
        "sheet_valid": "邀请码只能用一次，{days} 天内有效。",
        "print": "打印",
    }
)
TEXTS["invite_card_code_only"] = "请把下面的邀请码发给社区的聊天机器人"

# The web console: the week.
UI.update(
    {
        "week_title": "本周",
        "week_total": "回复 {answered} / 问候 {asked}",
        "week_rate": "各网格每天的回复率（%）",
        "week_cell": "{grid}：{answered} / {asked} 已回复",
        "week_no_round": "当天没有问候",
        "week_ack": "提醒等了多久才有人确认（中位数，分钟）",
        "week_ack_cell": "{minutes} 分钟",
        "week_ack_hint": "柱下面是“已确认 / 当天开始的提醒”，红色表示有提醒一直没人确认。",
    }
)

# The web console: settings.
UI.update(
    {
        "settings_title": "设置",
        "workflow_file": "流程配置文件",
        "builtin_used": "文件不存在，正在使用内置示例",
        "config_problems": "这个文件有 {n} 处问题，网关下次启动时会拒绝它：",
        "config_hint": "正在运行的网关使用启动时的配置；修改文件后，检查通过再重启（carecheck config check）。",
        "running": "运行情况",
        "platforms": "聊天平台",
        "console_address": "管理网页地址",
        "accounts": "账号",
        "acts_as": "代表的人",
        "disabled": "已停用",
        "accounts_hint": "在服务器上管理账号：carecheck users add|list|passwd|disable",
        "web_role_operator": "社区工作人员（全部网格）",
        "web_role_care_lead": "关爱组负责人",
        "web_role_grid_leader": "网格长",
        "web_role_viewer": "只读",
    }
)

# 人员表（CSV）里的问题（gateway/people.py）：网页的导入预览和人员表单用。
UI.update(
    {
        "csv_problem_separator": "；",
        "csv_problem_too_long": "{column} 太长：最多 {limit} 个字，这里有 {length} 个",
        "csv_problem_control_character": "{column} 里有控制字符（看不见的特殊字符）",
        "csv_problem_nul": "文件里有 NUL 字节，不是 CSV 文本文件（请在表格软件里另存为“CSV UTF-8”）",
        "csv_problem_cannot_read": "读不下去：{error}",
        "csv_problem_missing_columns": "缺少列：{columns}",
        "csv_problem_unknown_columns": "不认识的列：{columns}",
        "csv_problem_columns_twice": "重复的列：{columns}",
        "csv_problem_expected_header": "第一行应是：{header}",
        "csv_problem_more_values": "这一行的值比列多",
        "csv_problem_name_twice": "姓名 {name} 在第 {first} 行已经用过（姓名必须唯一，可以加上楼栋，例如 王秀英(3栋)）",
        "csv_problem_name_empty": "姓名是空的",
        "csv_problem_bad_role": "身份 {role} 不对，应是其中之一：{roles}",
        "csv_problem_bad_language": "语言 {value} 不对，应是 zh 或 en",
        "csv_problem_bad_timezone": "时区 {timezone} 不认识（请用 IANA 名称，例如 Asia/Shanghai）",
        "csv_problem_resident_without_grid": "居民必须填网格（grid）",
        "csv_problem_unknown_plan": "问候计划 {plan} 不存在（现有：{plans}）",
        "csv_problem_grid_not_listed": "网格 {grid} 不存在（流程配置文件里的网格：{grids}）",
        "csv_problem_grid_without_leader": "网格 {grid} 不认识：这个文件和数据库里都没有它的网格长（grid_leader）",
        "csv_problem_family_without_resident": "家属（family）这一行要在 family_of 里填居民的姓名",
        "csv_problem_family_of_not_resident": "family_of 填的 {name} 不是这个文件或数据库里的居民",
        "csv_problem_family_of_not_family": "只有家属（family）这一行才填 family_of",
        "csv_problem_bad_risk": "风险等级 {value} 不对，应是其中之一：{risks}",
        "csv_problem_risk_not_resident": "只有居民（resident）这一行才填 risk",
        "csv_problem_relation_not_family": "只有家属（family）这一行才填 relation（与居民的关系）",
        "csv_problem_bad_identity": "{column} 列的 {value} 格式不对（{reason}）",
        "csv_problem_bad_identity_telegram": "{column} 列的 {value} 不是 Telegram 的 chat id（应是数字，例如 123456789，最多 16 位）",
        "csv_problem_bad_identity_matrix": "{column} 列的 {value} 不是 Matrix 账号（应是 @用户名:服务器）",
        "csv_problem_bad_identity_local": "{column} 列的 {value} 不是本地聊天的名字（只能用字母和数字，不能有空格）",
        "csv_problem_identity_twice": "{column} {address} 在第 {first} 行已经用过",
        "csv_problem_identity_taken": "{column} {address} 已经属于 {holder}",
        "csv_problem_no_people": "文件里没有人员",
        "csv_problem_not_text": "不是 UTF-8 也不是 GB18030/GBK 文本：第 {offset} 字节是 0x{byte}（请在表格软件里另存为“CSV UTF-8”）",
        "csv_problem_not_text_bom": "文件以 UTF-8 标记开头，却不是 UTF-8 文本：第 {offset} 字节是 0x{byte}（请在表格软件里另存为“CSV UTF-8”）",
        "csv_problem_scope_role": "关爱组负责人不能添加或修改身份为 {role} 的人员",
        "csv_problem_scope_family": "family_of 填的不是您负责的网格里的居民",
        "csv_problem_scope_grid": "网格 {grid} 不归您管",
        "csv_problem_scope_moved": "{name} 属于别的网格",
        "csv_problem_no_file": "请先选择要上传的 CSV 文件",
        "csv_problem_too_large": "文件太大：最多 {limit} 字节",
    }
)

UI.update(
    {
        "config_ok": "检查通过：{plans} 个问候计划，{policies} 个报警流程，{teams} 个团队。",
        "config_ok_builtin": "内置示例，检查通过：{plans} 个问候计划，{policies} 个报警流程，{teams} 个团队。",
    }
)

# The web console: invitation sheets that cannot be made.
UI.update(
    {
        "invite_choose": "请选择一个网格，或勾选要打印邀请卡的人。",
        "invite_nobody": "没有要打印的人：选中的人都已经登记了聊天。要给他们重新打印，请去掉“只给还没登记聊天的人”。",
        "invite_too_many": "一次最多打印 {limit} 张，请少选一些人。",
        "invite_platform_failed": "现在拿不到聊天平台的邀请链接，没有生成邀请码：{reason}。请稍后再试。",
    }
)

# The web console: a request it cannot serve, as a page (the detail stays as it is).
UI.update(
    {
        "error_400": "请求有误",
        "error_403": "不能这样操作",
        "error_404": "找不到",
        "error_other": "出了问题",
        "error_advice_400": "这个请求网页读不懂。请回到上一页，刷新后再试。",
        "error_advice_403": "这个账号不能做这件事，或者表单已经过期（请刷新页面后再试）。",
        "error_advice_404": "没有这个页面，或者它不归这个账号管。",
        "error_advice_other": "请稍后再试；如果一直这样，请联系管理员查看网关的日志。",
        "error_home": "回到今日问候",
    }
)
UI.update({"choose_file": "选择文件…", "no_file_chosen": "还没有选文件"})
UI.update({"tl_step_role": "第 {step} 步：{role}"})
UI.update(
    {
        "error_401": "请先登录",
        "error_advice_401": "登录已经过期或还没有登录。请重新登录后再做一次。",
    }
)
UI.update(
    {
        "needs_no_person": "这个账号没有关联到具体的人，不能在网页上认领或办理需求（请用 carecheck users add … --person 姓名 关联）。"
    }
)

# Care beyond the daily tap: phone-call tasks, time away, visits, cover.
TEXTS.update(
    {
        "call_task": "请给{name}打电话：{phone}（{place}）",
        "call_task_attempt": "第{n}次，共{total}次",
        "call_dial": "拨打",
        "btn_call_ok": "✅ 接通·平安",
        "btn_call_help": "🆘 接通·需要帮助",
        "btn_call_no_answer": "📵 无人接听",
        "call_no_caller": "没有可以给他/她打电话的电话关爱员",
        "call_done_ok": "—— {who} 已接通：平安（{time}）",
        "call_recorded_ok": "已记录：{name}平安。谢谢！",
        "call_help_said": "电话关爱员{who}接通电话：需要帮助",
        "call_done_help": "—— {who} 已接通：需要帮助（{time}），已发出求助 #{alert}。回复这条消息可以补充情况。",
        "call_recorded_help": "已为{name}发出求助 #{alert}。回复这条任务消息可以补充情况。",
        "call_done_retry": "—— {who}：无人接听（第{n}次，{time}），{again} 再打。",
        "call_recorded_retry": "已记录。{again} 会再提醒您打一次。",
        "call_unanswered_note": "📵 打了{n}次电话，都无人接听",
        "call_done_missed": "—— {who}：打了{n}次无人接听（{time}），已发出提醒 #{alert}。",
        "call_recorded_missed": "已记录。{name}打了多次无人接听，已发出提醒 #{alert}。",
        "switched_to_phone": "ℹ️ {name}（{place}）连续{rounds}轮收不到聊天消息，以后改为电话问候（电话关爱员：{callers}）。",
        "recorded_vouched": "—— 已记录：{who}确认您平安（{time}）。",
        "checkin_welcome_back": "{name}，欢迎回来！今天身体还好吗？点一下下面的按钮，或者随便回一句话就行。",
        "alert_reported": "❓ 探访反映 #{alert}\n{name}（{place}）\n{time}：{said}",
        "reason_reported": "探访反映",
        "visit_concern_said": "{who}探访后反映：{note}",
        "alert_away_uncovered": "👥 {away}不在，也没有人代为处理。",
        "alert_covered": "👥 {away}不在，由{deputies}代为处理。",
        "alert_stand_down_vouched": "—— {who}已确认{name}平安（{how}，{time}），无需再处理。谢谢！",
        "outcome_called": "电话确认平安",
        "not_yours": "您不能为{name}登记。",
        "by_operator": "社区工作人员",
        "outcome_away": "外出/住院",
        "unknown_person": "找不到“{name}”。请写登记时的姓名。",
        "usage_away": "用法：/away 5d 原因（自己外出 5 天）；/away 姓名 5d 住院（替居民登记）。时间可写 5d、12h 或日期 2026-12-10。提前回来发 /back。",
        "away_set_self": "好的，{until} 前暂停每日问候。提前回来请发 /back。祝一切顺利！",
        "away_set": "已登记：{name}外出至 {until}，期间暂停问候，回来时会自动恢复。提前回来发 /back {name}。",
        "away_set_responder": "已登记：{name}外出至 {until}。期间提醒转给：{deputies}。回来发 /back。",
        "away_paused_you": "{who}为您登记了外出，{until} 前暂停每日问候。回来后会自动恢复。",
        "away_notice": "ℹ️ {name}（{place}）外出至 {until}（{reason}），期间暂停问候。登记人：{who}",
        "back_notice": "ℹ️ {name}（{place}）已回来，每日问候已恢复。",
        "cover_starts": "👥 {role}{name}外出至 {until}（{reason}），期间由您代为处理提醒。",
        "cover_starts_you": "已为您登记外出至 {until}，期间提醒转给：{deputies}。",
        "cover_ends": "👥 {name}已回来，代为处理结束。谢谢！",
        "cover_ends_you": "欢迎回来！提醒重新发给您。",
        "not_away": "{name}现在没有登记外出。",
        "back_self": "欢迎回来！",
        "back_set": "已登记：{name}已回来。",
        "usage_visited": "用法：/visited 姓名 ok（探访平安）或 /visited 姓名 concern 情况（需要关注）",
        "visited_ok": "已记录：探访{name}，平安。谢谢！",
        "visited_concern": "已记录探访，并为{name}发出关注提醒 #{alert}。",
        "visited_stood_down": "未回复提醒 #{alert} 已撤销。",
    }
)

# Problems with the people CSV's columns for care beyond the daily tap.
UI.update(
    {
        "csv_problem_bad_contact": "contact {value} 不是 {contacts} 之一",
        "csv_problem_phone_for_responder": "contact 为 phone 只用于居民（工作人员通过聊天联系）",
        "csv_problem_phone_without_number": "contact 为 phone 时 phone 列需要填写电话号码",
        "csv_problem_caller_not_resident": "caller 只用于居民",
        "csv_problem_caller_not_caller": "caller {name} 在本文件和数据库中都不是电话关爱员（caller）或团队成员（team_member）",
        "csv_problem_deputy_for_resident": "deputy 只用于工作人员（其外出时由谁代为处理）",
        "csv_problem_deputy_self": "deputy 不能是本人",
        "csv_problem_deputy_not_responder": "deputy {name} 在本文件和数据库中都不是工作人员",
    }
)

# The daily summary, early-warning flags and the outage guard.
TEXTS.update(
    {
        "summary_title": "📋 今日小结（{day}）",
        "summary_group_rest": "未关闭的提醒 {alerts} 条 · 进行中的需求 {needs} 项 · 外出 {away} 人 · 预警 {flags} 条（名单请在控制台查看）",
        "summary_grid": "【{grid}】共 {total} 次问候：已回复 {answered} · 迟回复 {late} · 未回复 {missed} · 求助 {help} · 待回复 {waiting}",
        "summary_late_names": "  迟回复：{names}",
        "summary_missed_names": "  未回复：{names}",
        "summary_help_names": "  求助：{names}",
        "summary_waiting_names": "  待回复：{names}",
        "summary_alerts": "  未关闭的提醒：{alerts}",
        "summary_alert_item": "#{alert} {name} {reason}（{state}）",
        "summary_alert_acked": "处理中",
        "summary_needs": "  需求：{count} 件未办完，其中 {overdue} 件超过 {hours} 小时：{needs}",
        "summary_away": "  外出：{names}",
        "summary_away_item": "{name}（至 {until}，{reason}）",
        "summary_flags": "  🔎 早期预警：{flags}",
        "summary_all_answered": "【{grid}】全部 {count} 人已回复 ✅",
        "summary_no_checkins": "【{grid}】今天没有问候，也没有要处理的事。",
        "summary_quiet_grids": "{grids}：全部已回复，没有要处理的事（共 {count} 次问候）✅",
        "summary_outage_open": "⚠️ {platform} 从 {since} 起联系不上，{count} 位居民没收到问候；他们的回复时限已延长，恢复后会重新问候。",
        "summary_outage_ended": "⚠️ {platform} 在 {since}–{until} 联系不上，{count} 位居民没按时收到问候；恢复后已重新问候。",
        "summary_more_grids": "还有 {count} 个网格有情况，请在网页控制台查看。",
        "summary_more": "等另外 {count} 项",
        "summary_sep": "、",
        "summary_not_for_you": "今日小结只发给网格长、关爱组负责人和社区工作人员。",
        "flag_missed": "{name} {days} 天内 {count} 次未回复",
        "flag_late": "{name} {days} 天内 {count} 次迟回复",
        "flag_drift": "{name} 最近 {count} 次回复都比平时早或晚 {days} 小时以上",
        "flag_no_contact": "{name} 已 {count} 天没有人联系（不应超过 {days} 天）",
        "outage_started": "⚠️ {platform} 联系不上：{count} 位居民没收到问候。他们的回复时限已延长，恢复后会重新问候；这期间不会为他们逐一发提醒。",
        "outage_ended": "✅ {platform} 已恢复（{since} 起中断）。已重新问候 {count} 位居民。",
    }
)

UI.update(
    {
        "risk": "风险等级",
        "risk_high": "高",
        "risk_key": "重点",
        "risk_general": "一般",
        "early_warning": "早期预警",
    }
)

# Privacy: what is kept and who sees it, consent, need to know, erasure.
TEXTS.update(
    {
        "privacy_notice": "我们保存：您的姓名、住址、电话，每天问候的回复和您发来的消息（文字{days}天后只留下类别）。能看到的人：您的网格长、关爱组负责人、社区工作人员，以及您家里同意接收提醒的家属；发到团队群里的只有您名字的一部分（如“王*英”）、楼栋和需要什么。不想再接收问候发 /stop；要删除您的资料发 /forget。",
        "consent_ask_family": "{name}您好！社区把您登记为{resident}的家属联系人。\n接收{resident}的提醒？\n同意后，{resident}没有回复问候或求助时会通知您，并附上住址和电话。不同意就不会给您发任何关于{resident}的消息。",
        "consent_ask_team": "{name}您好！社区把您登记为{grid}的志愿者。\n接收{grid}居民的提醒和需求？\n同意后，有居民需要帮助时会通知您，并附上住址和电话。不同意就不会给您发任何关于居民的消息。",
        "btn_consent_yes": "✅ 同意",
        "btn_consent_no": "❌ 不同意",
        "consent_given": "好的，已记录您的同意（{time}）。随时发 /stop 可以停止接收。",
        "consent_refused": "好的，已记录：您不接收{about}的提醒。改变主意请联系社区工作人员。",
        "consent_refused_notice": "ℹ️ {name} 不同意接收{about}的提醒（{time}），不会收到任何相关消息。",
        "consent_withdrawn": "好的，以后不再给您发{about}的提醒。",
        "consent_withdrawn_notice": "ℹ️ {name} 已停止接收{about}的提醒（{time}）。",
        "every_grid": "所有网格",
        "consent_about_grid": "{grid}居民",
        "stop_responder": "您的岗位由社区安排；要停止接收提醒，请联系社区工作人员。",
        "forget_confirm": "确定要删除您在这里的全部资料吗？包括姓名、住址、电话和您发过的消息。删除前会告诉您的网格长；删除后不再问候您，也不能恢复。",
        "btn_forget_yes": "🗑 确定删除",
        "btn_forget_no": "↩ 取消",
        "forget_cancelled": "好的，什么都没有删除。",
        "forget_open_alert": "您还有未关闭的提醒 #{alert}，等它处理完才能删除资料。",
        "forget_done": "您的资料已经删除。谢谢您！以后需要时，可以请社区重新登记。",
        "forget_notice": "ℹ️ {name}（{place}）要求删除个人资料，现在删除；以后不再问候。",
        "forget_responder": "要删除您的资料，请联系社区工作人员。",
        "alerts_line_group": "#{alert} {name}（{building}）{reason}，{state}",
        "alert_posted_group": "{urgent}提醒 #{alert}：{reason}\n{name}（{building}）",
        "need_posted_group": "📋 需求 #{need}：{kind}\n{name}（{building}）\n{text}",
        "reveal_need": "🔒 需求 #{need}由您认领：{name}\n住址：{address}\n电话：{phone}\n家属：{family}\n需求办好或取消后，这条消息里的住址和电话会被隐去。",
        "reveal_alert": "🔒 #{alert}由您处理：{name}\n住址：{address}\n电话：{phone}\n家属：{family}\n提醒关闭后，这条消息里的住址和电话会被隐去。",
        "concealed_need": "🔒 需求 #{need}（{name}）已结束，住址和电话已隐去。",
        "concealed_alert": "🔒 #{alert}（{name}）已关闭，住址和电话已隐去。",
    }
)
TEXTS["help_resident"] += "发 /forget 可以删除您在这里的全部资料。"
TEXTS["help_responder"] += "发 /stop 停止接收（家属、志愿者）；发 /forget 了解如何删除您的资料。"
