"""Built-in rule templates: seed 003's domain rules over metrics a service pushes.

Seed 003 (a trading system) shipped ten built-in rules. CPU, memory and disk are the
console's default rules (from the environment's thresholds); exchange and Neo4j
disconnection are service endpoints, each raising its own "down" alert. The other five
read metrics only such a service pushes (``POST /api/v1/metrics``), so they ship here as
templates: nothing runs until an admin enables one, in one click (the admin's "Rule
templates" page, or ``POST /api/v1/alert-rules/templates/{key}/enable``), which creates
the rule, enabled, under the template's name, or enables the rule of that name if it is
there and off. The rule is then an ordinary rule, edited like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.models import AlertRule


@dataclass(frozen=True)
class RuleTemplate:
    key: str
    name: str
    summary: str  # what the seed said, and what the service must push
    fields: dict = field(default_factory=dict)


TEMPLATES = [
    RuleTemplate(
        "exchange_latency",
        "High exchange latency",
        "P99 of exchange_latency_ms over 5 minutes above 5 s (seed 003's P99 > 5s); "
        "at least 5 samples, severity growing with the overage.",
        {
            "kind": AlertRule.Kind.LATENCY,
            "metric": "exchange_latency_ms",
            "aggregation": AlertRule.Aggregation.P99,
            "threshold": 5000.0,
            "window_seconds": 300,
            "severity": "warning",
            "category": "performance",
        },
    ),
    RuleTemplate(
        "trading_drawdown",
        "Large trading losses",
        "trading_drawdown_percent above 10 (seed 003's drawdown > 10%).",
        {
            "kind": AlertRule.Kind.CUSTOM_METRIC,
            "metric": "trading_drawdown_percent",
            "aggregation": AlertRule.Aggregation.LAST,
            "threshold": 10.0,
            "window_seconds": 300,
            "severity": "critical",
            "category": "business",
        },
    ),
    RuleTemplate(
        "api_rate_limit",
        "API rate limit running out",
        "exchange_api_rate_limit_remaining below 10 at any point in the last minute "
        "(seed 003's < 10 remaining).",
        {
            "kind": AlertRule.Kind.CUSTOM_METRIC,
            "metric": "exchange_api_rate_limit_remaining",
            "aggregation": AlertRule.Aggregation.MIN,
            "operator": AlertRule.Operator.LT,
            "threshold": 10.0,
            "window_seconds": 60,
            "severity": "warning",
            "category": "business",
        },
    ),
    RuleTemplate(
        "agent_failures",
        "Agent failures",
        "agent_failures (failures counted by the service) above 5 in the last 5 "
        "minutes (seed 003's > 5 failures).",
        {
            "kind": AlertRule.Kind.CUSTOM_METRIC,
            "metric": "agent_failures",
            "aggregation": AlertRule.Aggregation.MAX,
            "threshold": 5.0,
            "window_seconds": 300,
            "severity": "error",
            "category": "application",
        },
    ),
    RuleTemplate(
        "leverage",
        "Risk limit breach: leverage",
        "risk_leverage_ratio above 3 (seed 003's leverage > 3x).",
        {
            "kind": AlertRule.Kind.CUSTOM_METRIC,
            "metric": "risk_leverage_ratio",
            "aggregation": AlertRule.Aggregation.MAX,
            "threshold": 3.0,
            "window_seconds": 60,
            "severity": "critical",
            "category": "business",
        },
    ),
]

BY_KEY = {t.key: t for t in TEMPLATES}


def template_rule(template: RuleTemplate) -> AlertRule:
    """The rule a template makes, not saved."""
    return AlertRule(
        name=template.name,
        description=template.summary,
        cooldown_seconds=300,
        for_seconds=0,
        **template.fields,
    )


def status(template: RuleTemplate) -> AlertRule | None:
    """The rule of the template's name, if there is one."""
    return AlertRule.objects.filter(name=template.name).first()


def enable(key: str, *, actor: str, source: str = "template") -> tuple[AlertRule, bool]:
    """Create the template's rule enabled (or enable the rule of its name); returns the
    rule and whether it was created. KeyError for an unknown key."""
    from alerts.configcode import RulesSection

    template = BY_KEY[key]
    rule = status(template)
    created = rule is None
    if rule is None:
        rule = template_rule(template)
    with RulesSection().change(rule, actor=actor, source=source):
        if created:
            rule.enabled = True
            # The template is the console's own code (tests check each passes the
            # admin's form); its metric need not have arrived yet, which the form would
            # refuse for a latency rule.
            rule.full_clean()
            rule.save()
        elif not rule.enabled:
            rule.enabled = True
            rule.save(update_fields=["enabled", "updated"])
    return rule, created
