"""English texts. Placeholders in braces are filled in."""

TEXTS: dict[str, str] = {
    "checkin": "Good day, {name}! How are you today? Tap a button below, or just send any message.",
    "reminder": '{name}, we have not heard from you yet. Please tap "I\'m fine" or send any message.',
    "btn_ok": "✅ I'm fine",
    "btn_help": "🆘 I need help",
    "recorded_ok": "— Recorded: you are fine ({time}). Thank you!",
    "recorded_help": "— Recorded: you need help ({time}).",
    "thanks": "Thank you, noted. Have a good day.",
    "help_on_the_way": "{leader} has been told; someone will contact you shortly.",
    "help_on_the_way_nobody": "The community has been told; someone will contact you shortly.",
    "alert_missed": "⚠️ No answer #{alert}\n{name} ({place})\nPhone: {phone}\nThe check-in of {due} was not answered by {deadline}.",
    "alert_help": "🆘 Call for help #{alert}\n{name} ({place})\nPhone: {phone}\n{time}: {said}",
    "alert_unreachable": "⚠️ Unreachable #{alert}\n{name} ({place})\nPhone: {phone}\n{time} a message could not be delivered ({reason}).",
    "alert_exhausted": "❗ #{alert} {name} ({place}): nobody acknowledged; every step has been notified.",
    "alert_footer_open": 'Tap "I\'ll handle it", then "Close" when done.',
    "alert_footer_acked": "— Acknowledged by {who} ({time}).",
    "alert_footer_resolved": "— Closed by {who} ({time}): {outcome}",
    "alert_footer_stand_down": "— {name} answered at {time}: you can stand down. Thank you!",
    "btn_ack": "👀 I'll handle it",
    "btn_resolve": "✅ Close",
    "choose_outcome": "#{alert} {name}: choose the outcome:",
    "outcome_ok": "all is well",
    "outcome_visited": "visited in person",
    "outcome_hospital": "taken to hospital",
    "outcome_unreachable": "still unreachable",
    "outcome_late_answer": "answered late",
    "acked": "OK, #{alert} is yours.",
    "resolved": "#{alert} closed: {outcome}",
    "already_acked": "#{alert} was already acknowledged by {who}.",
    "already_resolved": "#{alert} is already closed.",
    "not_allowed": "This button is not for you, or you may not act on this alert.",
    "stale_button": "This button has been used already or has expired.",
    "unknown_alert": "There is no alert #{alert}.",
    "alerts_none": "No open alerts in your grid.",
    "alerts_header": "Open alerts:",
    "alerts_line": "#{alert} {name} ({place}) {reason}, {state}",
    "state_open": "waiting for acknowledgement",
    "state_acknowledged": "being handled by {who}",
    "reason_missed": "no answer",
    "reason_help": "call for help",
    "reason_unreachable": "unreachable",
    "usage_ack": "Usage: /ack NUMBER",
    "usage_resolve": "Usage: /resolve NUMBER OUTCOME (ok, visited, hospital, unreachable, or a few words)",
    "welcome_resident": 'Hello {name}! I am the community care assistant. Every day at {when} I will check on you: tap a button or send any message. If you need help, send "help" at any time.',
    "welcome_responder": "Hello {name}! You are registered as {role}. I will tell you when a resident does not answer or asks for help. Commands: /alerts, /ack NUMBER, /resolve NUMBER OUTCOME.",
    "welcome_team": 'This chat is now linked to the team "{team}".',
    "invite_invalid": "This invitation code is not valid, already used or expired. Please ask the community office for a new one.",
    "not_enrolled": "Hello! Please register first with the invitation link or code from the community office.",
    "help_resident": 'Every day I check on you: tap "I\'m fine" or send any message. If you need help, send "help" or tap "I need help". For medicine, groceries and the like send /need medicine TEXT. Send /stop to stop the daily check-in. Going away or into hospital? Send /away 5d REASON, and /back when you are back.',
    "help_responder": "Commands: /alerts lists open alerts; /ack NUMBER acknowledges; /resolve NUMBER OUTCOME closes (ok, visited, hospital, unreachable, or a few words). Needs: /need NAME KIND TEXT records one; /claim NUMBER; /done NUMBER. Visits: /visited NAME ok or /visited NAME concern NOTE. Away: /away 3d REASON (for a resident: /away NAME 5d hospital), /back when back. /summary: today's summary.",
    "stopped": "OK, no more daily check-ins. You can still write at any time if you need help. Send /start to resume.",
    "restarted": "OK, daily check-ins are back on.",
    "stop_notice": "ℹ️ {name} ({place}) has stopped the daily check-in.",
    "role_grid_leader": "grid leader",
    "role_care_lead": "care lead",
    "role_family": "family contact",
    "role_team_member": "team member",
    "role_caller": "caller",
    "role_operator": "community worker",
    "role_resident": "resident",
    # Asked when the sensors at home have been silent for the plan's ping_every.
    "ping_question": "{name}, are you all right today? The water meter at home has not moved today. Tap a button below, or send any message.",
}

# The dashboard and the local web chat (operators and trainers read these).
UI: dict[str, str] = {
    "title": "carecheck",
    "today": "Today's check-ins",
    "grid": "Grid",
    "pending": "Pending",
    "answered": "Answered",
    "reminded": "Reminded",
    "alerted": "Alerted",
    "help": "Help",
    "open_alerts": "Open alerts",
    "none": "none",
    "resident": "Resident",
    "reason": "Reason",
    "state": "State",
    "opened": "Opened",
    "start_round": "Start a check-in round now",
    "round_started": "Round started: {count} residents",
    "outbox": "Messages waiting to be sent",
    "chat_title": "Local chat (demo and training)",
    "chat_pick": "Choose a person to play in the chat:",
    "chat_send": "Send",
    "chat_placeholder": "Type a message…",
    "chat_back": "← choose someone else",
    "chat_intro": "This is {name}'s chat window ({role}).",
    "dashboard": "Dashboard",
}

TEXTS["invite_card_hint"] = (
    "Scan with the phone and tap Start in Telegram, or send the code below to the bot"
)
TEXTS["invite_matrix"] = "Matrix: start a chat with {bot} and send !link {code}"

TEXTS.update(
    {
        "need_posted": "📋 Need #{need}: {kind}\n{name} ({place}) phone: {phone}\n{text}\nRecorded by: {by}",
        "need_footer_open": 'Tap "I\'ll do it" to take it, then "Done" when it is done.',
        "need_footer_claimed": "— Taken by {who} ({time})",
        "need_footer_done": "— Done by {who} ({time})",
        "need_footer_cancelled": "— Cancelled by {who} ({time})",
        "need_recorded": "Need #{need} ({kind}) recorded and passed to {team}.",
        "need_claimed": "OK, need #{need} is yours.",
        "need_done": "Need #{need} is done. Thank you!",
        "need_already": 'Need #{need} is already "{state}".',
        "need_unknown": "There is no need #{need}.",
        "need_not_allowed": "You may not act on this need.",
        "usage_need": "Usage: /need KIND TEXT (kinds: medicine, groceries, personal_care, repair, companionship, medical, other); for someone else: /need NAME KIND TEXT",
        "btn_claim": "🙋 I'll do it",
        "btn_done": "✔️ Done",
        "team_grid_leader": "the grid leader",
        "kind_medicine": "medicine",
        "kind_groceries": "groceries",
        "kind_personal_care": "personal care",
        "kind_repair": "repair",
        "kind_companionship": "companionship",
        "kind_medical": "medical",
        "kind_other": "other",
        "need_state_open": "open",
        "need_state_claimed": "claimed",
        "need_state_done": "done",
        "need_state_cancelled": "cancelled",
    }
)

# Alerts people can act on without looking anything up; every message answered.
TEXTS.update(
    {
        "alert_missed": "⚠️ No answer #{alert}\n{name} ({place})\nThe check-in of {due} was not answered by {deadline}.",
        "alert_help": "🆘 Call for help #{alert}\n{name} ({place})\n{time}: \u201c{said}\u201d",
        "alert_unreachable": "⚠️ Unreachable #{alert}\n{name} ({place})\n{time} a message could not be delivered ({reason}).",
        "alert_concern": "❓ Needs a look #{alert}\n{name} ({place})\n{time} said: \u201c{said}\u201d\nAsked whether someone should come; no answer.",
        "reason_concern": "needs a look",
        "alert_now_urgent": "🆘 Now an urgent call for help",
        "alert_misses_in_a_row": "⚠️ Missed {count} rounds in a row",
        "alert_details": "Address: {address}\nPhone: {phone}\nFamily: {family}\nLast heard: {last_heard}\nMissed in the last 7 days: {missed}",
        "never": "never",
        "minutes_ago": "{n} min ago",
        "hours_ago": "{n} h ago",
        "days_ago": "{n} days ago",
        "alert_step_unreachable": "⚠️ {role} {names} cannot be reached (no chat enrolled, or messages refused): passed on to the next step.",
        "alert_resident_said": "💬 {name} said: \u201c{text}\u201d",
        "alert_note": "📝 {who}: {text}",
        "alert_superseded": "(#{alert} was updated: see the newest message below.)",
        "alert_still_unresolved": "❗ #{alert} is still unresolved: please deal with it.",
        "note_added": "Added to #{alert}; everyone who has this alert sees it.",
        "help_contacting": "Contacting {who} now. Keep your phone near you. In danger, call 120.",
        "help_contacting_community": "Contacting the community workers now. Keep your phone near you. In danger, call 120.",
        "help_delivered": "{who} has your call for help; someone will contact you shortly.",
        "concern_question": "{name}, shall someone come and see you?",
        "btn_concern_yes": "🆘 Yes, please come",
        "btn_concern_no": "🙂 No, I'm all right",
        "concern_dismissed": "All right, take care. Tell me any time you need something.",
        "concern_escalated": "We did not hear back, so we have asked someone from the community to contact you.",
        "concern_answered": "— Answered ({time})",
        "noted": "Got it, thank you!",
        "unknown_command": "I don't know that command.",
        "responder_hint": "To add a note to an alert, reply to the alert's message. Commands: /alerts, /ack NUMBER, /resolve NUMBER OUTCOME, /help for all.",
        "checkin_emergency": "[Urgent check-in] {name}, the community is making sure everyone is safe. Please tap a button or send any message.",
        "team_grid_leader": "grid leader {name}",
        "need_recorded": "Need #{need} ({kind}) recorded and passed to {team}.",
        "grid_unreachable": "⚠️ Grid {grid} has no grid leader who can be reached: alerts there go straight to the next step.",
        "identity_taken": "This chat account is already enrolled as {other}. Nothing was changed, so that {other} keeps getting messages. Ask a community worker if it must change.",
        "identity_moved_notice": "⚠️ {name} can no longer be reached by chat ({why}): check-ins and alerts cannot arrive. Please contact them.",
        "invite_already_bound": "{name} is already enrolled with this chat account.",
    }
)

UI.update(
    {
        "grid_without_leader": "⚠️ Grid {grid} has no grid leader enrolled on a chat platform: its alerts go straight to the next step. Invite its leader soon.",
        "round_started": "Round started: {count} residents",
        "round_result": "Round started: {count} residents; {skipped} already asked in this round were skipped.",
        "round_deferred": "It is quiet hours: the check-in goes out at {time}. For an emergency use the urgent check-in.",
        "start_emergency_round": "Urgent check-in (also in quiet hours)",
        "emergency_confirm": "Send an urgent check-in to everyone now, even in quiet hours?",
    }
)
UI.update({"chat_reply": "↩ Reply", "chat_replying": "Replying to:"})
TEXTS.update({"last_heard_at": "{time} ({ago})", "list_separator": "; "})
# A family contact on an alert: with their relation to the resident when it is known.
TEXTS.update(
    {"family_contact": "{name} {phone}", "family_contact_relation": "{name} ({relation}) {phone}"}
)
TEXTS.update({"why_left_chat": "left the chat or blocked the bot"})

# The web console (gateway/web): labels and messages of its pages.
UI.update(
    {
        "brand": "carecheck",
        "nav": "Main menu",
        "nav_today": "Today",
        "nav_needs": "Needs",
        "nav_people": "People",
        "nav_week": "Week",
        "nav_settings": "Settings",
        "nav_chat": "Local chat",
        "open_console": "this machine (no accounts yet)",
        "logout": "Log out",
        "login": "Log in",
        "login_title": "Log in",
        "username": "Username",
        "password": "Password",
        "login_failed": "Wrong username or password.",
        "login_throttled": "Too many failed logins: logging in is paused. Try again in {minutes} minutes (after {time}), or ask an operator to reset the password with carecheck users passwd.",
        "login_no_accounts": "There are no accounts yet. Create an operator account on the server: carecheck users add NAME --role operator --password-stdin",
        "login_open_here": "Open it here (no accounts yet)",
        "login_chat_hint": "Grid leaders can also send /web to the bot in their chat and tap the link they get (valid 10 minutes, once).",
        "link_confirm": "Tap the button to log in. This link works once.",
        "link_invalid": "This login link is not valid, was used already or has expired (10 minutes). Send /web in the chat again.",
        "today": "Today's check-ins",
        "search": "Search",
        "search_hint": "name or building",
        "all_grids": "All grids",
        "all_states": "All states",
        "filter_problems": "Problems only",
        "state_help": "Help",
        "state_alerted": "Alerted",
        "state_unreachable": "Unreachable",
        "state_missed": "Missed",
        "state_reminded": "Reminded",
        "state_pending": "Pending",
        "state_none": "Not asked yet",
        "state_paused": "Paused",
        "state_away": "Away",
        "state_answered": "Answered",
        "residents_shown": "{shown} of {total} residents",
        "alert_no": "Alert #{n}",
        "last_heard": "Last heard",
        "checkin": "Check-in",
        "next_checkin": "Next",
        "needs_open": "{n} open needs",
        "not_enrolled": "not enrolled on chat",
        "no_residents": "No residents match.",
        "per_grid": "Today per grid",
        "day_today": "today",
        "day_tomorrow": "tomorrow",
        "day_yesterday": "yesterday",
        "just_now": "just now",
    }
)

# `/web`: a login link into the web console.
TEXTS.update(
    {
        "web_link": "Tap to log in to the web console (valid {minutes} minutes, once; do not forward it):\n{link}",
        "web_no_account": "You have no web console account yet. Ask an operator to create one with carecheck users add … --person YOUR NAME.",
        "web_not_in_groups": "For safety, login links are only sent in your private chat with the bot. Send /web there.",
    }
)

# The web console: an alert's page.
UI.update(
    {
        "system": "system",
        "tl_opened": "Opened: {reason}",
        "tl_notified": "{role} {who} notified (step {step}, {platform})",
        "delivery_sent": "delivered {time}",
        "delivery_failed": "failed: {error}",
        "delivery_replaced": "replaced by a newer copy",
        "delivery_pending": "waiting to be sent ({tries} failed tries)",
        "delivery_unknown": "delivery unknown",
        "tl_note": "Note by {who}",
        "tl_alert_step_empty": "Nobody to notify at this step: passed on",
        "tl_alert_exhausted": "Every step notified, nobody acknowledged",
        "tl_alert_still_unresolved": "Still unresolved: sent again",
        "tl_alert_stand_down": "The resident answered: closed by itself",
        "tl_timer_late": "Sent late, after the gateway was down",
        "tl_acknowledged": "{who} acknowledged",
        "tl_resolved": "{who} closed it: {outcome}",
        "next_step": "next step {time} ({role})",
        "act_title": "Act",
        "act_viewer": "A read-only account cannot act on alerts.",
        "act_no_person": "This account is not linked to a person, so it cannot act on alerts here (link one: carecheck users add … --person NAME).",
        "act_not_allowed": "The person this account acts as does not look after this resident.",
        "alert_state_open": "waiting for acknowledgement",
        "alert_state_acknowledged": "being handled",
        "alert_state_resolved": "closed",
        "place": "Place",
        "phone": "Phone",
        "family": "Family",
        "step": "Progress",
        "step_of": "{position} of {total} steps notified",
        "resolve_with": "When done, close it with the outcome:",
        "outcome_other": "Another outcome (a few words)",
        "resolve_other": "Close with these words",
        "note": "Note (everyone notified sees it)",
        "add_note": "Add note",
        "timeline": "Timeline",
    }
)

# The web console: a person's page.
UI.update(
    {
        "last_30_days": "Last 30 days",
        "cal_answered": "answered",
        "cal_late": "late",
        "cal_missed": "missed",
        "cal_help": "help",
        "cal_pending": "pending",
        "cal_away": "away",
        "cal_none": "",
        "wd_0": "Mo",
        "wd_1": "Tu",
        "wd_2": "We",
        "wd_3": "Th",
        "wd_4": "Fr",
        "wd_5": "Sa",
        "wd_6": "Su",
        "contacts": "Contacts",
        "address": "Address",
        "language": "Language",
        "family_of": "Family of",
        "relation": "Relation to the resident (e.g. daughter)",
        "contact": "Checked by (chat / phone)",
        "caller": "Caller",
        "deputy": "Deputy while away",
        "reached_by": "Chat and check-in plan",
        "platform_off": "this platform is not running here",
        "enrolled_yes": "Enrolled on chat: gets check-ins and alerts.",
        "enrolled_no": "Not enrolled on a running chat platform: gets no check-ins or alerts. Print an invitation card.",
        "plan": "Plan",
        "reply_window": "Reply window",
        "minutes": "minutes",
        "escalation": "Escalation",
        "messages": "Recent messages",
        "edit": "Edit",
        "pause": "Pause check-ins",
        "resume": "Resume check-ins",
        "mark_left": "Left / no longer cared for",
        "came_back": "Care for again",
        "left_confirm": "Is {name} no longer to be cared for? The history is kept; this can be undone.",
        "person_paused": "Paused: no daily check-ins.",
        "person_left": "No longer cared for: history kept, not asked, not listed on Today.",
        "paused_on": "Check-ins for {name} paused (one already sent runs its course).",
        "paused_off": "Check-ins for {name} resumed.",
        "left_on": "{name} marked as no longer cared for; the history is kept.",
        "left_off": "{name} is cared for again.",
    }
)

# The web console: needs.
UI.update(
    {
        "needs_title": "Needs by team",
        "needs_col_open": "Open",
        "needs_col_claimed": "Claimed",
        "needs_col_closed": "Done or cancelled lately",
        "needs_empty": "No needs at the moment.",
        "team_none": "Grid leaders (kinds no team handles)",
        "claimed_by": "claimed by {who}",
    }
)

# The web console: people, adding, editing, importing.
UI.update(
    {
        "people_title": "People",
        "role": "Role",
        "all_roles": "All roles",
        "add_person": "Add a person",
        "invitations": "Print invitation cards",
        "export_csv": "Export CSV",
        "export_excel": "Export for Excel (with BOM)",
        "import_title": "Import people (CSV)",
        "import_hint": "You see a preview first; nothing is written until you confirm. UTF-8, UTF-8 with BOM, or GB18030/GBK (Excel's default on Chinese Windows).",
        "csv_file": "CSV file",
        "import_preview": "Upload and preview",
        "left_short": "no longer cared for",
        "name": "Name",
        "building": "Building",
        "timezone": "Time zone",
        "form_problems": "Please fix:",
        "form_hint": "The name matches rows and cannot be changed here. Chat accounts are added here, never removed.",
        "save": "Save",
        "saved": "{name} saved.",
        "name_taken": "Someone is already called “{name}” (names are unique: add the building, e.g. Wang (B3)).",
        "read_as": "{file}: read as {encoding}.",
        "to_add": "To add",
        "to_update": "To update",
        "unchanged": "Unchanged",
        "problems": "Problems",
        "problems_by_line": "Problems by line",
        "nothing_imported": "With any problem, nothing is imported. Fix the file and upload it again.",
        "line": "Line",
        "problem": "Problem",
        "changes": "Changed columns",
        "back_to_people": "Back to people",
        "confirm_import": "Import it if this looks right.",
        "import_now": "Import",
        "cancel": "Cancel",
        "imported": "{count} people imported.",
    }
)

# The web console: invitation sheets.
UI.update(
    {
        "invite_hint": "One A6 card per person (four on an A4 page) with the name, a QR code and the code. Every print makes new codes.",
        "invite_grid": "A whole grid",
        "invite_chosen": "Chosen people",
        "only_unenrolled": "Only people not yet enrolled on chat",
        "make_sheet": "Make a printable sheet",
        "enrolled_short": "enrolled",
        "sheet_title": "Invitation cards ({count})",
        "sheet_valid": "The code works once, for {days} days.",
        "print": "Print",
    }
)
TEXTS["invite_card_code_only"] = "Send the code below to the community's chat bot"

# The web console: the week.
UI.update(
    {
        "week_title": "This week",
        "week_total": "{answered} answered of {asked} asked",
        "week_rate": "Answer rate per grid per day (%)",
        "week_cell": "{grid}: {answered} of {asked} answered",
        "week_no_round": "no round that day",
        "week_ack": "How long alerts waited to be acknowledged (median, minutes)",
        "week_ack_cell": "{minutes} minutes",
        "week_ack_hint": "Under each bar: acknowledged / opened that day; red when some were never acknowledged.",
    }
)

# The web console: settings.
UI.update(
    {
        "settings_title": "Settings",
        "workflow_file": "Workflow file",
        "builtin_used": "the file does not exist: the built-in example is in use",
        "config_problems": "This file has {n} problem(s); the gateway would refuse it at its next start:",
        "config_hint": "The running gateway keeps the file it started with: check a change (carecheck config check), then restart.",
        "running": "Running",
        "platforms": "Chat platforms",
        "console_address": "Console address",
        "accounts": "Accounts",
        "acts_as": "Acts as",
        "disabled": "disabled",
        "accounts_hint": "Manage accounts on the server: carecheck users add|list|passwd|disable",
        "web_role_operator": "operator (every grid)",
        "web_role_care_lead": "care lead",
        "web_role_grid_leader": "grid leader",
        "web_role_viewer": "read only",
    }
)

# Problems in a people CSV (gateway/people.py), as `people import` prints them and the
# console's import preview and person form show them.
UI.update(
    {
        "csv_problem_separator": "; ",
        "csv_problem_too_long": "{column} is longer than {limit} characters ({length})",
        "csv_problem_control_character": "{column} contains a control character",
        "csv_problem_nul": "contains a NUL byte: not a CSV text file (save it as “CSV UTF-8”)",
        "csv_problem_cannot_read": "cannot read: {error}",
        "csv_problem_missing_columns": "missing column(s): {columns}",
        "csv_problem_unknown_columns": "unknown column(s): {columns}",
        "csv_problem_columns_twice": "column(s) given twice: {columns}",
        "csv_problem_expected_header": "expected header: {header}",
        "csv_problem_more_values": "more values than columns",
        "csv_problem_name_twice": "name {name} already used on line {first} (names must be unique; add the building, e.g. 王秀英(3栋))",
        "csv_problem_name_empty": "name is empty",
        "csv_problem_bad_role": "role {role} is not one of {roles}",
        "csv_problem_bad_language": "language {value} is not zh or en",
        "csv_problem_bad_timezone": "timezone: unknown timezone {timezone} (use an IANA name such as Asia/Shanghai)",
        "csv_problem_resident_without_grid": "a resident needs a grid",
        "csv_problem_unknown_plan": "unknown plan {plan} (known: {plans})",
        "csv_problem_grid_not_listed": "unknown grid {grid} (the workflow file lists: {grids})",
        "csv_problem_grid_without_leader": "unknown grid {grid}: no grid_leader for it in this file or the database",
        "csv_problem_family_without_resident": "a family row needs family_of (the resident's name)",
        "csv_problem_family_of_not_resident": "family_of {name} is not a resident in this file or the database",
        "csv_problem_family_of_not_family": "family_of is only for family rows",
        "csv_problem_bad_risk": "risk {value} is not one of {risks}",
        "csv_problem_risk_not_resident": "risk is only for resident rows",
        "csv_problem_relation_not_family": "relation is only for family rows",
        # `reason` is the chat platform's own (adapters/*/platform.py identity_from_csv).
        "csv_problem_bad_identity": "{column} {value} is {reason}",
        "csv_problem_identity_twice": "{column} {address} is already used on line {first}",
        "csv_problem_identity_taken": "{column} {address} already belongs to {holder}",
        "csv_problem_no_people": "no people in the file",
        "csv_problem_not_text": "not UTF-8 or GB18030/GBK text: byte 0x{byte} at offset {offset} (save the file as “CSV UTF-8” in the spreadsheet program)",
        "csv_problem_not_text_bom": "not UTF-8 (it starts with a UTF-8 mark) text: byte 0x{byte} at offset {offset} (save the file as “CSV UTF-8” in the spreadsheet program)",
        # Only the console's (what an account may manage).
        "csv_problem_scope_role": "a care lead cannot add or change a {role}",
        "csv_problem_scope_family": "family_of is not a resident of your grids",
        "csv_problem_scope_grid": "grid {grid} is not one of yours",
        "csv_problem_scope_moved": "{name} belongs to another grid",
        "csv_problem_no_file": "choose a CSV file to upload",
        "csv_problem_too_large": "the file is larger than {limit} bytes",
    }
)

UI.update(
    {
        "config_ok": "Checked, no problems: {plans} plan(s), {policies} escalation policy(ies), {teams} team(s).",
        "config_ok_builtin": "The built-in example, checked, no problems: {plans} plan(s), {policies} escalation policy(ies), {teams} team(s).",
    }
)

# The web console: invitation sheets that cannot be made.
UI.update(
    {
        "invite_choose": "Choose a grid, or tick the people to print cards for.",
        "invite_nobody": "Nobody to print for: everyone chosen is enrolled already. To print theirs again, untick “Only people not yet enrolled on chat”.",
        "invite_too_many": "At most {limit} cards at once: choose fewer people.",
        "invite_platform_failed": "The chat platform's invitation link cannot be had just now, so no code was made: {reason}. Try again later.",
    }
)

# The web console: a request it cannot serve, as a page (the detail stays as it is).
UI.update(
    {
        "error_400": "Bad request",
        "error_403": "Not allowed",
        "error_404": "Not found",
        "error_other": "Something went wrong",
        "error_advice_400": "The console could not read this request. Go back, reload the page and try again.",
        "error_advice_403": "This account may not do this, or the form has expired (reload the page and try again).",
        "error_advice_404": "There is no such page, or it is not this account's to see.",
        "error_advice_other": "Try again later; if it keeps happening, ask an operator to look at the gateway's log.",
        "error_home": "Back to Today",
    }
)
UI.update({"choose_file": "Choose a file…", "no_file_chosen": "no file chosen yet"})
UI.update({"tl_step_role": "step {step}: {role}"})
UI.update(
    {
        "error_401": "Log in first",
        "error_advice_401": "You are not logged in, or your session has ended. Log in and do it again.",
    }
)
UI.update(
    {
        "needs_no_person": "This account is not linked to a person, so it cannot claim or finish needs here (link one: carecheck users add … --person NAME)."
    }
)

# Care beyond the daily tap: phone-call tasks, time away, visits, cover.
TEXTS.update(
    {
        "call_task": "Please call {name}: {phone} ({place})",
        "call_task_attempt": "call {n} of {total}",
        "call_dial": "Call",
        "btn_call_ok": "✅ Reached · fine",
        "btn_call_help": "🆘 Reached · needs help",
        "btn_call_no_answer": "📵 No answer",
        "call_no_caller": "there is no caller to phone them",
        "call_done_ok": "—— {who} reached them: fine ({time})",
        "call_recorded_ok": "Recorded: {name} is fine. Thank you!",
        "call_help_said": "caller {who} reached them: needs help",
        "call_done_help": "—— {who} reached them: needs help ({time}); call for help #{alert} sent. Reply to this message to add what they said.",
        "call_recorded_help": "Call for help #{alert} sent for {name}. Reply to the task message to add what they said.",
        "call_done_retry": "—— {who}: no answer (call {n}, {time}); calling again at {again}.",
        "call_recorded_retry": "Recorded. You will be asked to call again at {again}.",
        "call_unanswered_note": "📵 {n} calls, none answered",
        "call_done_missed": "—— {who}: {n} calls unanswered ({time}); alert #{alert} sent.",
        "call_recorded_missed": "Recorded. {name} did not answer several calls: alert #{alert} sent.",
        "switched_to_phone": "ℹ️ Chat messages have not reached {name} ({place}) for {rounds} rounds: they will be phoned from now on (callers: {callers}).",
        "recorded_vouched": "—— Recorded: {who} confirmed you are all right ({time}).",
        "checkin_welcome_back": "{name}, welcome back! How are you today? Tap a button below, or send any message.",
        "alert_reported": "❓ Reported after a visit #{alert}\n{name} ({place})\n{time}: {said}",
        "reason_reported": "reported after a visit",
        "visit_concern_said": "{who} visited and reports: {note}",
        "alert_away_uncovered": "👥 {away} is away, and nobody covers.",
        "alert_covered": "👥 {away} is away; {deputies} covers.",
        "alert_stand_down_vouched": "—— {who} confirmed {name} is all right ({how}, {time}): no need to act. Thank you!",
        "outcome_called": "reached by phone, all right",
        "not_yours": "You may not act for {name}.",
        "by_operator": "a community worker",
        "outcome_away": "away / in hospital",
        "unknown_person": "Nobody named \u201c{name}\u201d. Write the name as it was registered.",
        "usage_away": "Usage: /away 5d REASON (you are away 5 days); /away NAME 5d hospital (for a resident). Write 5d, 12h or a date such as 2026-12-10. Back early? Send /back.",
        "away_set_self": "OK: no daily check-ins until {until}. Back early? Send /back. All the best!",
        "away_set": "Recorded: {name} is away until {until}; check-ins pause and resume by themselves. Back early? Send /back {name}.",
        "away_set_responder": "Recorded: {name} is away until {until}. Alerts go to: {deputies}. Send /back when back.",
        "away_paused_you": "{who} recorded that you are away: no daily check-ins until {until}. They resume by themselves.",
        "away_notice": "ℹ️ {name} ({place}) is away until {until} ({reason}); check-ins pause. Recorded by {who}.",
        "back_notice": "ℹ️ {name} ({place}) is back; daily check-ins resume.",
        "cover_starts": "👥 {role} {name} is away until {until} ({reason}): you take their alerts meanwhile.",
        "cover_starts_you": "Recorded that you are away until {until}. Your alerts go to: {deputies}.",
        "cover_ends": "👥 {name} is back: your cover ends. Thank you!",
        "cover_ends_you": "Welcome back! Alerts come to you again.",
        "not_away": "{name} is not recorded as away.",
        "back_self": "Welcome back!",
        "back_set": "Recorded: {name} is back.",
        "usage_visited": "Usage: /visited NAME ok (visited, all right) or /visited NAME concern NOTE (needs a look)",
        "visited_ok": "Recorded: visited {name}, all right. Thank you!",
        "visited_concern": "Visit recorded, and alert #{alert} sent for {name}.",
        "visited_stood_down": "The missed check-in alert #{alert} is called off.",
    }
)

# Problems with the people CSV's columns for care beyond the daily tap.
UI.update(
    {
        "csv_problem_bad_contact": "contact {value} is not one of {contacts}",
        "csv_problem_phone_for_responder": "contact phone is only for residents (responders are reached by chat)",
        "csv_problem_phone_without_number": "contact phone needs a phone number in the phone column",
        "csv_problem_caller_not_resident": "caller is only for residents",
        "csv_problem_caller_not_caller": "caller {name} is not a caller or team_member in this file or the database",
        "csv_problem_deputy_for_resident": "deputy is only for responders (who covers while they are away)",
        "csv_problem_deputy_self": "deputy is the person themselves",
        "csv_problem_deputy_not_responder": "deputy {name} is not a responder in this file or the database",
    }
)

# The daily summary, early-warning flags and the outage guard.
TEXTS.update(
    {
        "summary_title": "📋 Today's summary ({day})",
        "summary_group_rest": "open alerts {alerts} · open needs {needs} · away {away} · early warnings {flags} (names on the console)",
        "summary_grid": "[{grid}] check-ins {total}: answered {answered} · late {late} · missed {missed} · help {help} · waiting {waiting}",
        "summary_late_names": "  Late: {names}",
        "summary_missed_names": "  Missed: {names}",
        "summary_help_names": "  Help: {names}",
        "summary_waiting_names": "  Waiting: {names}",
        "summary_alerts": "  Open alerts: {alerts}",
        "summary_alert_item": "#{alert} {name} {reason} ({state})",
        "summary_alert_acked": "being handled",
        "summary_needs": "  Needs: {count} open, {overdue} of them older than {hours} h: {needs}",
        "summary_away": "  Away: {names}",
        "summary_away_item": "{name} (until {until}, {reason})",
        "summary_flags": "  🔎 Early warning: {flags}",
        "summary_all_answered": "[{grid}] all {count} answered ✅",
        "summary_no_checkins": "[{grid}] no check-ins today, nothing to report.",
        "summary_quiet_grids": "{grids}: all answered, nothing to report ({count} check-ins) ✅",
        "summary_outage_open": "⚠️ {platform} unreachable since {since}: {count} residents not reached; their reply windows are extended and they will be asked again once it is back.",
        "summary_outage_ended": "⚠️ {platform} was unreachable {since}–{until}: {count} residents not reached in time; they were asked again once it was back.",
        "summary_more_grids": "{count} more grids have something to report: see the web console.",
        "summary_more": "and {count} more",
        "summary_sep": ", ",
        "summary_not_for_you": "The daily summary is for grid leaders, care leads and operators.",
        "flag_missed": "{name}: {count} missed check-ins in {days} days",
        "flag_late": "{name}: {count} late answers in {days} days",
        "flag_drift": "{name}: the last {count} answers came more than {days} h from their usual time",
        "flag_no_contact": "{name}: no human contact for {count} days (at most {days})",
        "outage_started": "⚠️ {platform} unreachable: {count} residents not reached. Their reply windows are extended and they will be asked again once it is back; nobody is paged for each of them meanwhile.",
        "outage_ended": "✅ {platform} is back (out since {since}). {count} residents asked again.",
    }
)

UI.update(
    {
        "risk": "Risk",
        "risk_high": "high",
        "risk_key": "key",
        "risk_general": "general",
        "early_warning": "Early warning",
    }
)

# Privacy: what is kept and who sees it, consent, need to know, erasure.
TEXTS.update(
    {
        "privacy_notice": 'What we keep: your name, address and phone, your answers to the daily check-in and the messages you send (after {days} days only what kind of message it was). Who sees it: your grid leader, the care lead, community staff, and family members who agreed to receive your alerts; a team\'s group chat sees only part of your name (like "王*英"), your building and what is needed. Send /stop to stop the check-ins; send /forget to have your data deleted.',
        "consent_ask_family": "Hello {name}! The community has listed you as a family contact of {resident}.\nReceive {resident}'s alerts?\nIf you agree, you will be told when {resident} does not answer the check-in or asks for help, with their address and phone. If not, you will receive nothing about {resident}.",
        "consent_ask_team": "Hello {name}! The community has listed you as a volunteer of {grid}.\nReceive alerts and needs of {grid}'s residents?\nIf you agree, you will be told when a resident needs help, with their address and phone. If not, you will receive nothing about residents.",
        "btn_consent_yes": "✅ Agree",
        "btn_consent_no": "❌ Do not agree",
        "consent_given": "Thank you, your agreement is recorded ({time}). Send /stop at any time to stop.",
        "consent_refused": "Recorded: you will not receive {about}'s alerts. Ask community staff if you change your mind.",
        "consent_refused_notice": "ℹ️ {name} does not agree to receive {about}'s alerts ({time}) and will receive nothing about them.",
        "consent_withdrawn": "OK, you will no longer receive {about}'s alerts.",
        "consent_withdrawn_notice": "ℹ️ {name} has stopped receiving {about}'s alerts ({time}).",
        "every_grid": "every grid",
        "consent_about_grid": "{grid} residents",
        "stop_responder": "Your role was given by the community; to stop receiving alerts, ask community staff.",
        "forget_confirm": "Delete everything kept about you here? Your name, address, phone and the messages you sent. Your grid leader is told first; afterwards there are no more check-ins, and it cannot be undone.",
        "btn_forget_yes": "🗑 Delete",
        "btn_forget_no": "↩ Cancel",
        "forget_cancelled": "OK, nothing was deleted.",
        "forget_open_alert": "Alert #{alert} about you is still open: your data can be deleted once it is closed.",
        "forget_done": "Your data has been deleted. Thank you! Ask the community if you want to join again.",
        "forget_notice": "ℹ️ {name} ({place}) asked for their personal data to be deleted; it is deleted now, and they are no longer checked on.",
        "forget_responder": "To have your data deleted, ask community staff.",
        "alerts_line_group": "#{alert} {name} ({building}) {reason}, {state}",
        "alert_posted_group": "{urgent}Alert #{alert}: {reason}\n{name} ({building})",
        "need_posted_group": "📋 Need #{need}: {kind}\n{name} ({building})\n{text}",
        "reveal_need": "🔒 Need #{need} is yours: {name}\nAddress: {address}\nPhone: {phone}\nFamily: {family}\nOnce the need is done or cancelled, the address and phone are removed from this message.",
        "reveal_alert": "🔒 #{alert} is yours: {name}\nAddress: {address}\nPhone: {phone}\nFamily: {family}\nOnce the alert is closed, the address and phone are removed from this message.",
        "concealed_need": "🔒 Need #{need} ({name}) is closed; address and phone removed.",
        "concealed_alert": "🔒 #{alert} ({name}) is closed; address and phone removed.",
    }
)
TEXTS["help_resident"] += " Send /forget to have everything kept about you deleted."
TEXTS["help_responder"] += (
    " /stop stops your alerts (family, volunteers); /forget tells how to have your data deleted."
)
