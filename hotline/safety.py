"""Deterministic safety layer: a child in danger, violence, sexual harm or self-harm is flagged by rules,
whatever the model says (the model's `emergency` intent is a second, independent signal).

Rules read the normalised text (Simplified, NFKC, see `hotline.text.normalise`) in lower case. They favour
recall: a false alarm costs a lawyer a minute, a missed one can cost a life. Idioms that only look violent
(累死了, 笑死, 打电话, "this job is killing me") are excluded explicitly and covered by tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Danger(StrEnum):
    SELF_HARM = "self_harm"
    CHILD_DANGER = "child_danger"
    VIOLENCE = "violence"
    SEXUAL_HARM = "sexual_harm"
    THREAT_TO_LIFE = "threat_to_life"


@dataclass(frozen=True)
class SafetyFlag:
    danger: Danger
    rule: str


# 打 followed by these is not hitting (打电话 = to phone, 打工 = to work, 打架 = a fight, ...).
_NOT_HITTING = (
    "电话|工|车|的|卡|算|折|扫|印|听|包|开|游戏|麻将|针|球|扰|字|官司|交道|理|钱|款|给|过来|过去|招呼|架|"
    "水|饭|架子|底|气|赌|牌|call|烊|拼|火|雷|滴|的士|单|点滴|疫苗|胎|掉|比方|个比方|羽毛球|篮球|乒乓|"
    "印|算盘|量|探|听|工仔|折扣|包票|广告|卡点|赏|退堂鼓|酱油|下手|草稿|官腔|趣|发|通|响|住院"
)
_HIT = rf"(?:打(?!{_NOT_HITTING})|揍|踢|掐|殴打|暴打|毒打|抽打|扇|虐待|虐|烫伤?|砍|勒|捆|绑|饿)"
_KIN = (
    r"(?:爸|妈|父亲|母亲|继父|继母|后爸|后妈|老豆|老爸|老妈|阿爸|阿妈|爷爷|奶奶|外公|外婆|老公|丈夫|老婆|"
    r"前夫|男朋友|男友|女朋友|舅舅|叔叔|伯伯|姑父|姨父|哥哥|家里人|家长|养父|养母|监护人|老师|班主任|同学|"
    r"他们|他|她|佢|佢哋)"
)
_VICTIM = r"(?:我|孩子|小孩|儿子|女儿|妹妹|弟弟|妈妈|我妈|我们|我哋|她|他|佢|表妹|表弟|细路|宝宝|学生)"
_CHILD = r"(?:孩子|小孩|儿子|女儿|细路|弟弟|妹妹|学生|宝宝|孙子|孙女|外孙|侄子|侄女|小朋友|娃|儿童|幼儿|未成年)"
_PASSIVE = r"(?:被|俾|畀)"
_HURT = r"(?:伤|血|站不起来|喊|哭|晕|肿|青|紫|骨折|住院|进医院|半死|不能动|动不了|起不来|昏|残)"
_ZH_RULES: list[tuple[Danger, str, str]] = [
    # self-harm and suicide
    (
        Danger.SELF_HARM,
        "zh_not_live",
        r"不想活|活不下去|活着没(?:有)?(?:意思|意义)|唔想(?:生存|活)|不如死|死了算|死咗算|一了百了|不打算活|活不到明天|活到明天",
    ),
    (
        Danger.SELF_HARM,
        "zh_want_die",
        r"(?<![笑累饿气热冷困吓烦痛疼到得])想死(?!你|佢|他|她)|想去死|寻死|轻生|求死|去死了算|好想死",
    ),
    (
        Danger.SELF_HARM,
        "zh_suicide",
        r"自杀|自尽|自残|自伤|结束(?:自己的?)?生命|了结自己|割腕|割脉|遗书|上吊|(?:伤害|烫|割|划|弄伤|惩罚|打)自己",
    ),
    (
        Danger.SELF_HARM,
        "zh_method",
        r"跳楼(?!价)|(?:从|在)\S{0,4}(?:楼|天台|桥|阳台)\S{0,3}跳|跳下去|跳河|跳桥|跳海|烧炭|吞药|(?:喝|买)\S{0,3}农药|安眠药|(?:划|割)(?:开|破|伤)?\S{0,2}手腕|手腕\S{0,3}(?:划|割)",
    ),
    # sexual harm
    (
        Danger.SEXUAL_HARM,
        "zh_sexual",
        rf"性侵|强奸|强暴|猥亵|鸡奸|乱伦|非礼|性虐|(?:{_KIN}|{_CHILD})\S{{0,8}}性骚扰|性骚扰\S{{0,8}}{_CHILD}|侵犯(?:了)?(?:我|她|他|孩子|女儿|儿子)",
    ),
    (
        Danger.SEXUAL_HARM,
        "zh_touch",
        r"摸(?:我|她|他|孩子|女儿|儿子)?(?:的)?(?:下面|胸|身体|私处|屁股|隐私部位|下体|大腿)|摸我(?!的?头)|坐(?:他|她|佢)?(?:的)?腿上",
    ),
    (
        Danger.SEXUAL_HARM,
        "zh_undress",
        r"(?:逼|让|要|叫|强迫)(?:我|她|他|孩子)?\S{0,3}(?:脱|除)(?:衣服|裤子|衫|光|内裤)|除衫|拍裸照|裸照",
    ),
    (
        Danger.SEXUAL_HARM,
        "zh_coerced",
        r"强迫(?:我|她|他|孩子)\S{0,4}(?:做那种事|做那个|发生关系|做爱|上床)|对(?:我|她|他|孩子)做了?(?:不好的事|那种事|坏事)|钻进\S{0,2}被窝|爬上\S{0,3}床|带(?:我|她|他|孩子)?(?:去|到|进)(?:宾馆|酒店|旅馆|他家过夜)",
    ),
    # violence at home and against children
    (Danger.VIOLENCE, "zh_domestic", r"家暴|家庭暴力|虐童|虐待|施暴|暴打|毒打|殴打"),
    (Danger.VIOLENCE, "zh_kin_hits", rf"{_KIN}\S{{0,6}}?{_HIT}(?:了)?{_VICTIM}"),
    (
        Danger.VIOLENCE,
        "zh_kin_hits_often",
        rf"{_KIN}(?:经常|天天|日日|成日|成天|每天|总是|老是|又|一喝酒就|喝醉了就|动不动就?)\S{{0,3}}?{_HIT}",
    ),
    (Danger.VIOLENCE, "zh_hit_result", rf"打(?:得|到)\S{{0,8}}?{_HURT}"),
    (
        Danger.VIOLENCE,
        "zh_hit_object",
        rf"(?:又|刚刚|刚才|正在|而家|一直|经常)\S{{0,2}}打(?:了|紧|伤)?{_VICTIM}(?!电话|手机|微信)",
    ),
    (
        Danger.VIOLENCE,
        "zh_hit_how",
        rf"(?:往死里|按在地上|绑起来|吊起来|关起来)\S{{0,2}}(?:打|揍|踢)|{_HURT}\S{{0,8}}打的",
    ),
    (
        Danger.VIOLENCE,
        "zh_beaten",
        rf"{_PASSIVE}(?:{_KIN}|人|老板|工头|包工头|保安|同事|室友)?(?:狠狠地?|活活|往死里|暴力)?(?:打(?!{_NOT_HITTING}|伤了手)|揍|殴打|暴打|毒打|踢|掐)",
    ),
    (
        Danger.CHILD_DANGER,
        "zh_child_harmed",
        rf"{_CHILD}\S{{0,4}}{_PASSIVE}\S{{0,6}}(?:打|虐|关|锁|饿|烫|拐|卖|遗弃|带走|抢走|性侵|欺负得|威胁)",
    ),
    (Danger.CHILD_DANGER, "zh_child_missing", rf"{_CHILD}\S{{0,3}}(?:不见了|失踪|走失|被拐|被人带走)|拐卖"),
    (
        Danger.CHILD_DANGER,
        "zh_child_alone",
        r"(?:不给|不让)(?:我|孩子|小孩)?\S{0,2}(?:吃饭|吃东西)|把(?:我|孩子|小孩)(?:关|锁)",
    ),
    # threats to life
    (
        Danger.THREAT_TO_LIFE,
        "zh_kill",
        r"(?:杀|烧|劈|砍|捅|弄|打|掐|毒|淹|撞|斩)死(?:我|你|她|他|我们|我哋|孩子|全家|佢)|杀晒|要(?:嚟)?杀(?!价|怪|鸡|虫|毒|菌|猪|鱼)|(?:来|要|会|想|就)杀了?(?:我|你|她|他|我们|我哋|孩子|全家|佢)|扬言要?(?:杀|砍|弄死|报复)|要杀人|威胁要?杀|同归于尽",
    ),
    (
        Danger.THREAT_TO_LIFE,
        "zh_weapon",
        r"(?:用|拿|拎|持)(?:着|住|著)?(?:把|一把)?(?:刀|枪|汽油|斧头|菜刀|铁棍|棍子)\S{0,6}(?:指着|威胁|说要|话要|要|砍|劈|追|对着|烧)|持刀|用枪指|菜刀|砍刀|(?:刀|枪)\S{0,6}(?:门口|楼下|指着我)",
    ),
    (Danger.THREAT_TO_LIFE, "zh_choke", r"掐[着著住]?(?:我|她|他)?(?:的)?脖子|勒[着著住]?(?:我|她|他)?(?:的)?脖子"),
]

_OBJ = r"(?:me|us|her|him|them|my (?:\w+ )?(?:kids?|child|children|son|daughter|sister|brother|mom|mother|baby|wife|stomach|face|head)|the (?:kids?|baby|children))"
_PERSON = (
    r"(?:he|she|they|husband|wife|dad|daddy|father|mom|mommy|mum|mother|boyfriend|girlfriend|partner|stepdad|stepmom|"
    r"stepfather|stepmother|brother|sister|uncle|aunt|grandpa|grandma|grandfather|grandmother|parents?|teacher|coach|"
    r"ex|ex-husband|ex-wife|nanny|babysitter|cousin|guardian|someone|kids at school|bully|bullies)"
)
_EN_RULES: list[tuple[Danger, str, str]] = [
    (
        Danger.SELF_HARM,
        "en_suicide",
        r"\b(?:kill(?:ing)? my ?self|suicid\w*|end(?:ing)? (?:my|it) (?:life|all)|end it all|take my (?:own )?life|"
        r"(?:want|wanna|going|gonna|ready) to die|don'?t want to (?:live|be alive|wake up)|better off dead|"
        r"no reason to live|self[- ]?harm\w*|hurt(?:ing)? my ?self|(?:cut|cutting|burn|burning|burned|burnt) my ?self|"
        r"(?:cut|slash|slit)(?:ting|ted|ed)? my (?:wrists?|arms?|legs?)|overdos\w*|hang my ?self|"
        r"swallow(?:ed)? (?:all|a bunch|a bottle|a handful|the whole)\w* \w*\s?(?:of )?(?:my |the |his |her )?(?:\w+'s )?(?:pills|tablets)|"
        r"jump (?:off|from) (?:a|the|my) (?:bridge|roof|rooftop|building|balcony|window)|(?:going|gonna|about) to jump\b|"
        r"on the (?:roof|rooftop|ledge) and)",
    ),
    (
        Danger.SEXUAL_HARM,
        "en_sexual",
        r"\b(?:rap(?:e|ed|es|ing|ist)|molest\w*|sexual(?:ly)? (?:abus\w*|assault\w*|things|messages|photos|pictures|stuff|acts?)|"
        r"(?:teacher|coach|stepdad|stepfather|uncle|dad|father|grandpa|pastor|tutor)\w* (?:\w+ ){0,3}sexual(?:ly)? harass\w*|"
        r"groom(?:ed|ing)|incest|touch(?:es|ed|ing)? (?:me|her|him|my (?:daughter|son|child|kid))\b(?! up)|"
        r"touch(?:es|ed|ing)? my (?:private|breast|chest|butt)\w*|nudes? of (?:me|her|him)|"
        r"(?:made|makes|make|forced|forces|told|tells) (?:me|her|him) (?:to )?(?:undress|strip|take off (?:my|her|his) (?:clothes|pants|shirt|underwear))|"
        r"(?:gets|got|climbs|came|comes) into my bed|sit on his lap|took me to a (?:hotel|motel))",
    ),
    (
        Danger.VIOLENCE,
        "en_abuse",
        rf"\b(?:child abuse|abus(?:e|es|ed|ing|ive) {_OBJ}|abus(?:e|es|ed|ing) (?:a|the|his|her|their) (?:baby|child|kid|toddler)|"
        rf"domestic (?:violence|abuse)|physically abus\w*|beat(?:s|en|ing)? {_OBJ}|"
        rf"{_PERSON}(?:'s)? (?:[\w'-]+,? ){{0,6}}(?:hits?|hitting|punch(?:es|ed|ing)?|kick(?:s|ed|ing)?|slap(?:s|ped|ping)?|whip(?:s|ped)?|"
        rf"attack(?:s|ed|ing)?|shov(?:e|es|ed|ing)) {_OBJ}\b(?! up\b)|"
        rf"(?:threw|throws|throw|slammed|slams|pushed|pushes) {_OBJ} (?:against|into|down|to the|on the)|"
        rf"pours? (?:hot|boiling) water on {_OBJ}|(?:chok(?:e|es|ed|ing)|strangl\w*) {_OBJ}|bruises? (?:all over|from)|"
        rf"{_PERSON} (?:just )?broke my|locks? {_OBJ} (?:in|out|up)|starv(?:e|es|ing) {_OBJ})",
    ),
    (
        Danger.THREAT_TO_LIFE,
        "en_threat",
        rf"\b(?:(?:'ll|'d|will|would|going to|gonna|threaten(?:s|ed|ing)?(?: to)?) (?:kill|murder|hurt|stab|shoot|burn|hack|strangle) {_OBJ}|"
        rf"(?:kill|murder|stab|shoot) (?:me|us|my (?:son|daughter|kids?|children|baby|wife|mom|family))\b|"
        rf"(?:stab|hack|beat|burn|choke|strangle)\w* {_OBJ} to death|"
        r"threat(?:ened|ening)? (?:me )?with a (?:knife|gun|weapon)|(?:pulled|pointing|holding|has|had|with) a (?:knife|gun|cleaver|machete|axe) (?:on|to|at)|"
        r"(?:slit|cut|slash) (?:my|her|his|your|our) throats?|(?:at|outside) my door with a (?:knife|gun|cleaver|machete|axe)|die together|"
        r"fear(?:ing)? for my life|in danger right now|afraid he will kill)",
    ),
    (
        Danger.CHILD_DANGER,
        "en_child",
        r"\b(?:(?:kid|child|son|daughter|baby|toddler|sister|brother)\w* (?:is|was|has been|got) "
        r"(?:missing|kidnapped|abducted|taken|beaten|hurt by)|kidnap\w*|trafficking|left (?:my|the) (?:kids?|baby) alone for days)",
    ),
]

_COMPILED: list[tuple[Danger, str, re.Pattern[str]]] = [
    (danger, name, re.compile(pattern)) for danger, name, pattern in (*_ZH_RULES, *_EN_RULES)
]

# Hyperbole that the rules above must not treat as danger; removed from the text before matching. A clause
# about something that happened years ago (十年前…打伤过) is history for the lawyer, not an emergency.
_IDIOMS = re.compile(
    r"(?:累|笑|饿|气|热|冷|困|吓|烦|忙|痛|疼|穷|丑|美|帅|闷|无聊|急)死(?:了|我了|人了|啦|咯)?|死机|跳楼价|想死你|"
    r"(?:\d+|[一二三四五六七八九十几]+)年前[^,，。.!?！？]*过|"
    r"(?:this|that|the|my) (?:\w+ )?(?:job|work|boss|heat|commute|traffic|homework|exam|class|back|feet|wait)\w* "
    r"(?:is|are|was) (?:killing|gonna kill|going to kill) me|killing time|dying (?:to|for)|dead tired|"
    r"(?:is|are|'s|will|'ll) (?:gonna |going to )?kill me if|kill (?:two|2) birds|"
    r"beat(?:s|ing)? (?:me )?(?:at|in) (?:chess|cards|games?|the game|basketball|football)|"
    r"hit (?:the|me up|it off|rock bottom|a wall|the gym|the road)"
)


def check(text: str) -> list[SafetyFlag]:
    """All safety flags raised by the deterministic rules for this (normalised) text."""
    lowered = _IDIOMS.sub(" ", text.lower())
    flags: list[SafetyFlag] = []
    seen: set[Danger] = set()
    for danger, name, pattern in _COMPILED:
        if danger not in seen and pattern.search(lowered):
            flags.append(SafetyFlag(danger, name))
            seen.add(danger)
    return flags


_MINOR_CUES = re.compile(
    rf"{_CHILD}|继父|继母|后爸|后妈|爸爸|妈妈|老豆|老妈|我爸|我妈|父母|家长|老师|班主任|同学|学校|幼儿园|"
    r"(?<!\d)(?:[1-9]|1[0-7])\s*岁|(?:十[一二三四五六七]?|[一二三四五六七八九])岁|初[一二三]|高[一二三]|小学|中学|"
    r"\b(?:my (?:dad|mom|mum|father|mother|parents?|stepdad|stepmom|stepfather|stepmother|teacher|coach|son|daughter|"
    r"kids?|child|children|baby|little (?:brother|sister))|i'?m (?:1[0-7]|[5-9])\b|(?:1[0-7]|[5-9]) ?(?:years? old|yo)|"
    r"middle school|high school|grade \d+)"
)


def involves_minor(text: str) -> bool:
    """Whether a (normalised) message speaks of a child, a parent or school: the cue that danger concerns a minor."""
    return bool(_MINOR_CUES.search(text.lower()))


def is_urgent(text: str) -> bool:
    return bool(check(text))
