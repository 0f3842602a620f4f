"""How client staff say the usual troubles (口语说法): "连不上" for "连接失败", "挂了" for
"不可用", and the typos they commonly make ("登陆" for "登录"). Built in for every engagement;
an engagement's `[knowledge] synonyms` extend it. Pure data, in the shape of that glossary
(a head word and the words that mean the same; `knowledge.synonym_table` makes it symmetric),
and `respell` for the typos.

Kept to what any data-platform engagement's staff type, not one client's jargon. A word is
found anywhere in a question, so no single character that also means something else ("卡" is
also 饭卡, 打卡, 卡纸), and each group says one thing: a wide group lets an off-topic question
("电脑很卡") reach an article.
"""

from __future__ import annotations

import re

# fmt: off
COLLOQUIAL: dict[str, tuple[str, ...]] = {
    # cannot connect, log in, open
    "连接失败": ("连不上", "连接不上", "连不了", "连不通", "无法连接", "连接不了"),
    "登录失败": ("登不上", "登不进", "登不了", "登录不了", "登录不上", "无法登录"),
    "打不开": ("无法访问", "访问不了", "访问不到", "进不去", "打开失败", "无法打开",
               "加载不出来"),
    "断线": ("掉线", "断开", "断连", "老断"),
    # slow, stuck
    "慢": ("很慢", "好慢", "太慢", "巨慢", "特别慢", "响应慢", "卡顿", "卡住", "卡死", "很卡",
           "好卡", "太卡", "卡半天", "等半天", "出不来", "刷不出来", "转圈", "超时"),
    # failures
    "失败": ("不成功", "没成功"),
    "报错": ("出错", "错误", "异常", "报异常"),
    "任务失败": ("作业失败", "跑失败", "跑挂", "跑不动", "跑不了", "跑不起来", "执行失败",
                 "运行失败", "没跑成功"),
    "不可用": ("挂了", "挂掉", "宕机", "down", "崩了", "瘫痪", "起不来"),
    "重启": ("重新拉起", "拉起来", "重新起", "重新启动"),
    "内存不足": ("内存不够", "内存爆", "爆内存", "内存溢出", "内存超", "oom"),
    "被kill": ("被杀", "被干掉", "killed"),
    # data
    "查不到": ("没数据", "没有数据", "无数据", "数据为空", "查询为空", "是空的", "数据缺失",
               "缺数据", "没出数", "查不出"),
    "不是最新": ("没更新", "还是旧的", "旧数据", "没刷新", "未更新"),
    "积压": ("堆积", "堆了", "跟不上", "消费不过来"),
    "不一致": ("对不上", "不一样", "数据不对", "有出入", "有差异"),
    "导出失败": ("导不出", "导出不了", "下载不了", "下载失败", "下载不下来"),
    "误删": ("删错", "不小心删", "误删除"),
    "恢复": ("找回", "还原"),
    "重跑": ("重新跑", "再跑一次", "再跑一遍", "补跑", "rerun"),
    # accounts and access
    "忘记密码": ("密码忘了", "忘了密码", "密码忘记", "密码不记得", "找回密码", "重置密码"),
    "修改密码": ("改密码", "密码修改", "换密码", "重置密码"),
    "没有权限": ("没权限", "无权限", "权限不够", "权限不足", "缺少权限", "拒绝访问",
                 "permission denied", "access denied"),
    "过期": ("到期", "失效"),
    "新员工": ("新人", "新来的", "新同事", "刚入职"),
    # space
    "空间不足": ("空间满", "磁盘满", "存储满", "配额满", "空间不够", "磁盘不够", "没空间",
                 "quota exceeded"),
    # things
    "仪表盘": ("看板", "仪表板", "dashboard"),
    "地址": ("网址", "url", "入口"),
    "告警": ("报警", "预警"),
}
# fmt: on

# Typos common in chat, each put right by a word of the same length (an excerpt maps places in
# the normalised text back to the original), in questions and articles alike.
TYPOS: dict[str, str] = {
    "登陆": "登录", "登入": "登录", "帐号": "账号", "帐户": "账户", "链接不上": "连接不上",
    "链接失败": "连接失败", "秘码": "密码", "查寻": "查询", "配制": "配置", "布署": "部署",
    "按装": "安装",
}  # fmt: skip
_TYPO = re.compile("|".join(map(re.escape, TYPOS)))


def respell(text: str) -> str:
    """`text` with the typos of `TYPOS` put right ("帐号被锁" -> "账号被锁")."""
    return _TYPO.sub(lambda typo: TYPOS[typo.group()], text)
