"""What residents write when they are fine, worried or in trouble, in Chinese and English.

This is the one place for that language. `workflows.intent` reads it: the four lists an
operator may extend in the workflow file (`help_words: {urgent, concern, negation,
fine}`) and the smaller lists that only shape how those words are read (what softens an
alarm, what cancels it, what merely looks like one). Words are written as people type
them; the classifier normalises both sides the same way (full-width to half-width, case,
a few traditional characters, English contractions), so "can't", "cant" and "can not"
are one word here.
"""

from __future__ import annotations


def _words(block: str) -> tuple[str, ...]:
    """Words separated by "、" or line ends; a line starting with "#" is a comment."""
    lines = (line.strip() for line in block.splitlines())
    return tuple(
        w.strip()
        for line in lines
        if not line.startswith("#")
        for w in line.split("、")
        if w.strip()
    )


# --- Urgent: somebody needs help now. ---------------------------------------------------

# Calls for help. They stay urgent even in a question, after "yesterday" or "if", and
# nothing later in the message takes them back; only a negation does ("不用救命" is not
# a thing anyone types, "no need for help" is).
CALLS = _words(
    """
    救命、救救我、救救、救我、快救我、快来人、来人啊、来人呐、来人哪、快来救我、快来、快点来、
    快过来、赶紧来、赶快来、帮帮我、快帮帮我、快帮我、求救、求求你们快来、sos、🆘、help、
    help me、help us、please help、someone help、somebody help、need help、i need help、
    send someone、come quickly、come quick、come now
    help me up、help me get up、get me up、help me stand
    """
)

# Emergencies told rather than called: a fall, a collapse, no breath, fire, gas.
EMERGENCIES = _words(
    """
    # falls (摔到/跌到 are the common homophone slips for 摔倒/跌倒)
    摔倒、跌倒、滑倒、绊倒、栽倒、摔到了、跌到了、我摔了、人摔了、摔了、摔了一跤、摔一跤、
    摔了个跤、跌了一跤、跌一跤、扑了一跤、绊了一跤、摔了个跟头、摔了一个跟头、摔跟头、摔跤了、
    摔伤、跌伤、摔断、摔着、骨折、摔下来、摔在地上、倒在地上、倒地、掉下床、从床上掉、床上掉下来、
    滚下楼梯、楼梯上摔、要倒了
    # cannot get up or move
    起不来、起不来了、爬不起来、站不起来、动不了、不能动、动弹不得、站不住
    # breath, heart, brain
    喘不上气、喘不过气、喘不上来、喘不过来、上不来气、透不过气、喘不赢、呼吸困难、不能呼吸、
    没法呼吸、憋死了、胸口剧痛、剧痛、胸口疼、胸口痛、心口疼、心口痛、胸痛、心脏疼、心脏痛、
    心绞痛、心脏病犯了、心脏病发作、心梗、中风、脑梗、脑溢血、嘴歪、说不出话、说话说不清、
    半边身子、半身不遂、突然看不见、抽搐、抽风、口吐白沫
    # unconscious
    晕倒、昏倒、晕过去、昏过去、昏迷、晕厥、休克、不省人事、叫不醒、没反应、没有反应、没知觉、
    没有知觉、没呼吸、没有呼吸、没气了、快不行了、我不行了、要不行了、要死了、不想活了、
    活着没意思、想不开
    # blood
    大出血、吐血、咳血、流了好多血、流了很多血、好多血、流血不止、血止不住、一直流血、头破了、
    头破血流
    # the home
    着火、起火、失火、冒烟、煤气泄漏、煤气味、燃气泄漏、天然气泄漏、漏气、煤气中毒、中毒、
    触电、漏电、撬门、撬锁、有人撬、进贼、有小偷、闯进来、吃错药、喝了农药
    # getting help
    叫救护车、救护车、打120、叫120、拨120、打个120、快120、打110、打119、急救、紧急、出事了、
    出大事了、送医院、🚑
    # English
    emergency、ambulance、fall、call 911、call 999、call 112、call 120、fell、fallen、i fell、
    had a fall、took a fall、a bad fall、slipped、can not get up、unable to get up、
    can not stand、can not move、can not breathe、struggling to breathe、short of breath、
    not breathing、stopped breathing、chest pain、chest hurts、pain in my chest、
    heart attack、stroke、collapsed、passed out、fainted、unconscious、will not wake up、
    not responding、bleeding、broke my hip、broken hip、broke my leg、broken leg、fire、
    smoke in、full of smoke、gas leak、smell gas、smells of gas、burglar、intruder、broke in、
    break in、i am dying、going to die、overdose、choking、seizure、can not feel my、
    face drooping、slurred
    摔、跌跤、摔地上、跌在、跌下、倒下了、倒地不起、坐不起来、翻不了身、抬不起来、说不了话、喘不动
    头撞破、撞破了头、磕破了头、血流了、一地血、满地血、流血、家里进人、进人了、陌生人、叫医生、快叫
    心脏病发、犯心脏病、心脏病又犯、被车撞、车撞了、出车祸、on the floor、please come、come please、hurt badly、badly hurt、stuck、s o s、来人、起不了、跌了一下、摔了一下、滑了一跤、噎住、卡住了、药吃多了、吃多了药、吃了一把药、迷路、找不到家、回不了家、走丢、被困、困在、困住了
    人不行了、他不行了、她不行了、老伴不行了、老头子不行了、老太婆不行了、妈不行了、爸不行了、滚下来、滚下楼、从楼梯上滚
    """
)

# "Help me" is a call when it stands alone or with these; "help me change a light bulb"
# is a request (concern).
CALL_FOLLOWERS = _words(
    """
    please、pls、plz、now、quick、quickly、fast、asap、someone、somebody、anyone、i、im、
    my、fell、fallen、can、cannot、this、it、me、us
    """
)

URGENT = CALLS + EMERGENCIES

# --- Concern: a symptom or a need, not plainly an emergency. ----------------------------

# Body parts and aches: jieba keeps "腰疼" or "牙痛" as one word, so each pair is a word
# here too (made below) rather than trusting a bare "疼" to be found inside it.
BODY_PARTS = _words(
    """
    头、脑袋、脑壳、腰、背、腿、脚、手、胳膊、肩、肩膀、脖子、颈椎、腰椎、膝盖、关节、肚子、
    肚、胃、腹、牙、嗓子、喉咙、眼睛、眼、耳朵、浑身、全身、身上、骨头、屁股、脚踝、手腕
    手指、手指头、脚趾、牙龈、鼻子、心脏
    """
)
ACHES = ("疼", "痛", "酸", "麻", "胀", "肿", "痒", "晕", "沉")
# A chest that hurts is told as an emergency (see EMERGENCIES), not a concern.

SYMPTOMS = _words(
    """
    不舒服、唔舒服、难受、不得劲、不对劲、不大对劲、疼、痛、晕、痒、肿、胀、麻了、酸痛、疼痛、
    绞痛、刺痛、隐痛、作痛、腰酸背痛、腰酸背疼、腰腿痛、偏头痛、关节痛、神经痛、风湿、痛风、
    老寒腿、头晕、头昏、发晕、晕乎乎、晕晕、头晕目眩、头晕眼花、头昏脑涨、头昏脑胀、眩晕、
    晕眩、眼前发黑、发黑、眼花、看不清、看不见、听不见、听不清、耳鸣、嗡嗡响、发烧、发热、
    低烧、高烧、烧得、发冷、打摆子、咳嗽、咳、咳痰、感冒、着凉、流鼻涕、鼻塞、打喷嚏、拉肚子、
    腹泻、拉稀、便秘、反胃、恶心、想吐、吐了、呕吐、没胃口、吃不下、不想吃、没吃东西、没吃饭、
    没怎么吃、没吃、饿、没力气、没劲、乏力、使不上劲、腿软、疲倦、走不动、走不了、
    走路不稳、站不稳、腿脚不便、心慌、心悸、心跳快、心跳得厉害、慌、闷、胸闷、憋得慌、堵得慌、闷得慌、
    憋闷、气短、气喘、喘、血压高、高血压、血压升高、血糖高、低血糖、手抖、发抖、哆嗦、抽筋、
    浮肿、水肿、起疹子、疹子、疙瘩、过敏、崴了、扭了、扭伤、烫伤、烫了、起泡、割破、划破、
    磕破、磕了、碰伤、伤口、出血、睡不着、失眠、睡不好、没睡好、没睡着、一夜没睡、
    睡不踏实、起夜、尿频、尿不出、老毛病、又犯了、犯病、复发、病了、生病、病倒、住院、摔过、
    跌过、差点摔、遭不住、受不了、疼死、难受死、不行了、🤒、🤕、🤢、🤮、😷、🥵、🥶
    # English
    sick、ill、unwell、under the weather、dizzy、dizziness、lightheaded、light headed、faint、
    headache、migraine、fever、a temperature、cough、coughing、a cold、caught a cold、flu、
    sore throat、runny nose、nausea、nauseous、vomit、vomiting、threw up、throw up、
    throwing up、diarrhea、diarrhoea、stomach ache、stomachache、tummy ache、upset stomach、
    constipated、pain、painful、hurt、hurts、hurting、ache、aches、aching、sore、swollen、
    swelling、rash、itchy、weak、exhausted、no energy、fatigue、can not sleep、
    could not sleep、insomnia、palpitations、heart racing、heart is racing、
    chest feels tight、chest is tight、tight chest、chest tightness、blood pressure is high、
    high blood pressure、blood pressure high、blood sugar、shaky、shaking、trembling、numb、
    cramp、cramps、confused、forgetful、feel bad、feeling bad、feel terrible、
    feeling terrible、feel awful、feeling awful、terrible、awful、worse、something is wrong、
    something wrong、not right、killing me
    发炎、炎症、肺炎、中暑、闪了、闪了腰、腰闪了、头沉、费劲、吃力、不通、拉不出、解不出
    血压偏高、血压有点高、血压很高、血压太高、血压又高、血糖偏高、血糖有点高
    poorly、feel off、feeling off、a bit off、wrong
    好累、太累、累死、累得、累坏、so tired、very tired、really tired、too tired、出冷汗
    红肿、肿痛、胀痛、发烫、瘦了、麻木、差、running low、low on、acting up、playing up、feeling down、feel down、really down、forgetting、forget things、memory、can not hear、can not see、hard of hearing
    咬了、被狗咬、could be better、been better、seen better days、in hospital、in the hospital
    """
)

NEEDS = _words(
    """
    药吃完了、药快吃完了、药没了、药快没了、没药了、断药、缺药、药不够、买药、拿药、开药、
    配药、没米了、没菜了、没饭吃、没吃的、没东西吃、吃完了、没水了、停水、停电、断电、
    家里没电、没暖气、暖气坏了、暖气不热、冻得、漏水、坏了、帮我买、帮忙买、帮我带、帮我拿、
    帮我看看、帮我修、帮个忙、帮帮忙、帮我一下、来帮我、需要帮忙、需要帮助、要人帮、来个人、
    来看看我、过来看看、来一趟、陪我去医院、带我去医院、要去医院、想去医院、得去医院、看医生、
    找医生
    # company, fear, low mood
    孤单、孤独、寂寞、没人管、没人照顾、没人陪、没人说话、没人理、没得人管、不来看我、陪陪我、
    陪我聊、想找人聊、找人聊天、找个人说说话、说说话、害怕、怕、担心、心烦、烦、郁闷、想哭、
    哭、难过、伤心、不开心、心情不好、没意思、无聊、忘事、记性不好、记不住、老忘、糊涂
    # English
    ran out of、run out of、running out of、out of medicine、out of pills、out of food、
    no food、nothing to eat、have not eaten、has not eaten、not eating、can not eat、
    no appetite、lost my appetite、hungry、need someone、need a doctor、see a doctor、
    need medicine、prescription、pick up my、bring me、could someone、can someone、help with、
    help me with、help me to、help me get、help me carry、help me buy、help me find、
    help me fix、need help with、some help、a little help、broken、leak、leaking、no water、
    no power、power is out、freezing、lonely、all alone、so alone、feel alone、
    nobody、no one、scared、afraid、frightened、worried、anxious、depressed、sad、crying、
    miss my
    out of my
    快没了、快用完了、用完了
    """
)

CONCERN = SYMPTOMS + NEEDS + tuple(part + ache for part in BODY_PARTS for ache in ACHES)

# --- Fine. ------------------------------------------------------------------------------

# Words for feeling well whose negation is itself a complaint: "不舒服", "not well",
# "还没好", "I'm not ok".
FINE_STATES = _words(
    """
    好、很好、挺好、舒服、舒坦、好受、对劲、得劲、精神、利索、正常、健康、硬朗、fine、ok、okay、good、
    great、well、feel well、feeling well、alright、all right、better、healthy、normal
    踏实、好使、灵便、棒
    """
)

# Words that say a trouble is over: what came before them in the message is taken back
# ("昨天头有点晕，今天已经好了"), unless it is still going on ("腿还疼").
RECOVERY = _words(
    """
    好了、好多了、好些了、好点了、好一些了、快好了、已经好了、没事了、恢复了、恢复得不错、
    消肿、消了、退烧、退了、止住了、缓过来了、不碍事了、正常了、better、much better、
    feeling better、gone、went away、recovered、fine now、ok now、okay now
    # Reassurance after a complaint takes it back too: "腿有点酸，不碍事".
    不碍事、不要紧、没关系、没大碍、无大碍、不用担心、别担心、甭担心、放心、没事、没事儿、没啥事、没什么事、问题不大、小毛病、nothing serious、no big deal、do not worry、i am fine、i am ok、i am okay、all good、not serious、pain free
    """
)

FINE_PHRASES = _words(
    """
    好的、好滴、好哒、好嘞、好吧、好啊、好呀、好好、好着呢、好着、好得很、好好的、都好、还好、
    蛮好、满好、真好、身体好、一切都好、一切安好、挺好的、没事、没事儿、没什么事、没啥事、
    没有事、莫得事、没得事、冇事、没问题、冇问题、没毛病、没大碍、无大碍、不碍事、不要紧、
    放心、不用担心、别担心、甭担心、莫担心、勿念、别惦记、甭惦记、不用惦记、别挂念、不用挂念、
    还行、行的、还可以、可以、不错、一切正常、平安、安好、巴适、要得、得嘞、收到、知道了、
    明白、倍儿棒、能吃能睡、吃得香、睡得香、睡得好、睡得不错、睡得挺好、胃口好、胃口挺好、
    不用来、不用过来、不需要帮忙、不用帮忙、不需要帮助、能行、[强]、[ok]、[微笑]、[呲牙]、
    [愉快]、[抱拳]、👍、👌、✅、🙂、😊、😀、😃、😄、😁、☺、💪、🆗、✌、i am fine、all good、
    i am good、feel good、feeling good、doing good、doing well、doing fine、very well、
    i am well、all is well、no problem、no problems、not bad、nothing to worry、do not worry、
    no need to worry、no need to come、slept well、perfect、wonderful、excellent、safe
    没啥问题、没什么问题、没大问题、没什么大问题、没有问题、没摔、没跌、没有摔
    no worries、凑合、还凑合、马马虎虎、老样子、吃嘛嘛香、杠杠的
    """
)

FINE = FINE_STATES + RECOVERY + FINE_PHRASES

# --- Reading them. -----------------------------------------------------------------------

# Negations. "别/不要/甭/勿" and an English sentence that opens with "do not" are
# warnings to someone else ("小心别摔倒", "don't fall on the ice"): what they negate
# is neither an alarm nor a sign of being fine.
NEGATION = _words(
    """
    不、没、没有、无、未、不再、不用、不需要、不必、用不着、并不、并没有、从不、从没、没再、
    再没、不会、不曾、不是、冇、莫、没得、别、不要、甭、勿、not、no、never、without、nothing、
    none、nor、neither
    less
    """
)
WARNINGS = ("别", "不要", "甭", "勿", "千万别", "可别")

# What may stand between a negation and the word it negates: "不太舒服", "一点都不疼",
# "没觉得头晕", "I do not really need any help".
FILLERS = _words(
    """
    也、都、还、太、很、再、是、有、怎么、怎样、那么、这么、大、算、觉得、感觉、感到、一点、
    一点儿、什么、啥、咋、真、真的、可、就、又、曾、i、you、we、he、she、it、am、is、are、
    was、were、be、been、do、does、did、have、has、had、feel、feeling、felt、think、really、
    very、so、too、that、quite、much、any、a、an、the、for、need、at、all、getting、get、got、
    doing、to、will、would、want、longer、more、even、my、me
    in
    哪里、哪儿、哪、任何、什么地方、anywhere、anything
    """
)

# "Still" and "again": a trouble told with these is not taken back by a later "好多了".
PERSISTING = _words(
    """
    还、还是、仍、仍然、依然、一直、老是、总是、又、still、keep、keeps、again、always
    """
)

# A fall told with one of these is worrying, not an emergency now: it was before, it
# nearly happened, or it might.
PAST = _words(
    """
    昨天、昨晚、前天、上周、上星期、上个星期、上个月、去年、前年、以前、之前、上次、前几天、
    前些天、那次、年轻时、年轻的时候、曾经、yesterday、last night、last week、last month、
    last year、ago、used to、once
    """
)
PRESENT = ("现在", "刚才", "刚刚", "正在", "now", "just now", "right now")
HYPOTHETICAL = _words(
    """
    怕、害怕、担心、万一、如果、要是、假如、以防、小心、防止、容易、差点、差一点、险些、
    会不会、可能会、if、in case、afraid、worried、almost、nearly、might、careful、what if、
    scared
    """
)
# These open the rest of their sentence to the hypothetical ("如果我摔倒了，起不来怎么办").
CONDITIONS = ("万一", "如果", "要是", "假如", "if", "in case", "what if")

# "别的都挺好", "otherwise fine": a reassurance about the rest, not about the complaint.
OTHERWISE = ("别的", "其他", "其它", "其余", "除了", "otherwise", "else", "apart from", "besides")

# "刚才按错了": a call for help sent by mistake.
MISTAKES = _words(
    """
    按错、误触、不小心按、点错、按到了、误报、发错、by mistake、accidentally、by accident、
    wrong button、ignore that、ignore the
    """
)

THANKS = ("谢谢", "感谢", "多谢", "多亏", "幸亏", "幸好", "谢了", "thank", "thanks", "grateful")

# Requests for a hand, which a question to someone else ("你需要帮忙吗？") or a thank-you
# ("谢谢你们上次帮我买药") does not make a call.
ASKS = (
    *(w for w in NEEDS if w.startswith(("帮", "需要", "来", "要人", "help", "need", "some"))),
    *("help", "help me", "help us", "need help", "i need help", "please help"),
)

# Things that look like help words and are not.
NEUTRAL = _words(
    """
    心疼、疼爱、疼惜、你好、您好、早上好、晚上好、下午好、中午好、新年好、问好、好久不见、
    不好意思、好几、摔了一个、摔了个碗、摔了个杯、摔坏、摔碎、摔破了、手机摔、快来了、快来吃、
    快来看、快到了、跌价、下跌、没人在家、家里没人、闷热、纳闷、解闷、麻烦、要帮忙吗、
    需要帮忙吗、需要帮助吗、急救电话、防摔、天气不错、天气好、fell asleep、fall asleep、fall in love、the fall、this fall、last fall、in fall、fall season、fell in love、fell for、fell behind、
    fell through、fell apart、fell silent、help my、help your、help him、help her、help them、
    help out、help others、help each、help you、the help、your help、of help、a help、
    help desk、good morning、good afternoon、good evening、good night、good luck、good job、
    great grand、pain au、fire alarm test、no one else
    摔东西、摔门、摔碗、摔杯、摔盘、摔手机、股票
    救命恩人、救命之恩、救命稻草、急救包、急救培训、急救知识、急救课、紧急联系人、emergency contact、emergency number、fall alarm、fall detector、false alarm
    止痛、止疼、镇痛、忍痛、惨痛、痛快、差不多、出差
    """
)

# What jieba's dictionary glues onto a word ("有点痛", "好孤单", "不太好", "摔断了",
# "闷得慌" are single words to it): a word found inside such a token still counts, while
# one inside a real compound ("心疼", "疼爱", "你好", "不好意思") does not.
GLUE_BEFORE = _words(
    """
    有点、有些、有一点、一点、好、很、太、不太、挺、特别、非常、真、老、又、还、都、也、不、没、
    别、有、这么、那么、怪、蛮、可、超、最、更、越来越、一直、总、总是、老是、突然
    """
)
GLUE_AFTER = _words(
    """
    了、的、得、啊、呀、着、儿、死了、死、得慌、得很、得厉害、过、啦、吧、呢、一下、了吧、了啊、
    起来、下来、不了
    """
)

# An ache that ends a word of jieba's ("红肿", "酸疼", "腿抽筋" aside) is an ache whatever
# comes before it in that word; the exceptions ("心疼", "止痛") are in NEUTRAL.
ACHES_AT_END = ("疼", "痛", "晕", "肿", "痒")

# Single characters that are "fine" only when they stand at the end of what is said, or
# before a particle: "好" and "好的", not "好冷" or "好几天".
PARTICLES = "的了啊呀吧嘞滴哒着呢哈嘛啦喔哦噢咯呐好"


def is_call_for_help(text: str) -> bool:
    """Kept for callers of the old substring test: an urgent message, as classified."""
    from workflows.intent import Intent, classify

    return classify(text) is Intent.URGENT


# What people call each kind of need, so `/need 药 ...` works as well as `/need medicine`.
NEED_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "medicine": ("medicine", "药", "药品", "买药"),
    "groceries": ("groceries", "买菜", "菜", "生活用品", "物资", "supplies"),
    "personal_care": ("personal_care", "care", "洗澡", "照料", "生活照料", "bath"),
    "repair": ("repair", "维修", "修"),
    "companionship": ("companionship", "陪伴", "聊天", "company"),
    "medical": ("medical", "看病", "就医", "医生", "doctor"),
    "other": ("other", "其他"),
}


def need_kind(word: str) -> str | None:
    word = word.strip().lower()
    for kind, words in NEED_KIND_WORDS.items():
        if word in words:
            return kind
    return None
