"""Domain vocabulary: resource levels, services, roles, parties and the default SLA policy.

Pure data, shared by the engagement file validator, the handlers and `/help`.
Keys are what files and commands use; names are what people read (Chinese first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Term:
    """A key with its display names."""

    key: str
    zh: str
    en: str

    def name(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh


def _index(*terms: Term) -> dict[str, Term]:
    return {term.key: term for term in terms}


PARTIES: Final = _index(Term("client", "甲方", "client"), Term("vendor", "厂商", "vendor"))
# In a command's roles: every registered person of either party (client and vendor staff).
EITHER_PARTY: Final = frozenset(PARTIES)

# 资源类型: the five resource levels sold by the person-day, junior first.
LEVELS: Final = _index(
    Term("junior", "初级工程师", "junior engineer"),
    Term("mid", "中级工程师", "mid-level engineer"),
    Term("senior", "高级工程师", "senior engineer"),
    Term("expert", "资深技术专家", "technical expert"),
    Term("principal", "高级技术专家", "principal expert"),
)

# 服务类型: the service catalogue of the service guide.
SERVICES: Final = _index(
    Term("online_support", "在线客服支持", "online support"),
    Term("response_sla", "技术支持响应", "technical support response"),
    Term("software_upgrade", "软件模型升级", "software and model upgrades"),
    Term("security_patch", "软件安全补丁", "security patches"),
    Term("api_support", "API接口支持", "API support"),
    Term("health_check", "定期系统健康检查", "periodic health checks"),
    Term("incident_recovery", "故障排除和恢复", "incident recovery"),
    Term("training", "培训服务", "training"),
    Term("customer_manager", "专属客户经理", "dedicated customer manager"),
    Term("performance_advice", "性能优化建议", "performance advice"),
    Term("data_migration", "数据迁移支持", "data migration"),
    Term("ops_assurance", "运维保障服务", "operations assurance"),
    Term("ops_monitoring", "运维监控服务", "operations monitoring"),
    Term("config_management", "配置管理支持", "configuration management"),
    Term("bigdata_dev", "大数据开发服务", "big data development"),
    Term("ai_dev", "AI开发业务服务", "AI development"),
    Term("knowledge_base", "知识库搭建服务", "knowledge base building"),
    Term("model_finetune", "模型微调服务", "model fine-tuning"),
    Term("prompt_optimization", "prompt优化服务", "prompt optimisation"),
    Term("operator_dev", "算子库开发服务", "operator library development"),
)

ROLES: Final = _index(
    Term("client_member", "甲方成员", "client member"),
    Term("client_approver", "甲方审批人", "client approver"),
    Term("client_coordinator", "甲方协调人", "client coordinator"),
    Term("engineer", "工程师", "engineer"),
    Term("vendor_pm", "厂商项目经理", "vendor PM"),
    Term("customer_manager", "专属客户经理", "customer manager"),
    Term("director", "交付总监", "delivery director"),
    Term("admin", "管理员", "admin"),
)

# The party each role belongs to; None: either party.
ROLE_PARTY: Final[dict[str, str | None]] = {
    "client_member": "client",
    "client_approver": "client",
    "client_coordinator": "client",
    "engineer": "vendor",
    "vendor_pm": "vendor",
    "customer_manager": "vendor",
    "director": "vendor",
    "admin": None,
}

# A sender the engagement does not know, in a chat bound to it (may open tickets only).
UNREGISTERED_REPORTER: Final = "unregistered_reporter"

CHANNELS: Final = ("console", "feishu", "dingtalk", "wecom", "email")

SEVERITIES: Final = _index(
    Term("P1", "紧急", "urgent"),
    Term("P2", "高", "high"),
    Term("P3", "中", "medium"),
    Term("P4", "低", "low"),
)

CALENDARS: Final = ("24x7", "business")


@dataclass(frozen=True)
class SlaTarget:
    """First-response and resolution targets of one severity, in minutes of its calendar."""

    response_minutes: int
    resolve_minutes: int
    calendar: str


# Resolution targets on the business calendar count working time: a business day is
# the length of the working day, so "3d" there is 3 x 9 h with the default 09:00-18:00.
DEFAULT_SLA: Final = {
    "P1": ("15m", "4h", "24x7"),
    "P2": ("30m", "8h", "24x7"),
    "P3": ("4h", "3d", "business"),
    "P4": ("1d", "5d", "business"),
}
DEFAULT_WARNING_AT: Final = "0.75"
DEFAULT_ESCALATE_AT: Final = "1.5"
DEFAULT_ESCALATION_ROLES: Final = ("director",)
DEFAULT_BUSINESS_HOURS: Final = "09:00-18:00"
DEFAULT_AUTO_CLOSE_DAYS: Final = 3  # business days after which a resolved ticket closes itself
