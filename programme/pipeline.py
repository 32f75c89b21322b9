"""From the support programme's delivered records to the private marts its funnel and ecosystem are released from.

    marts.programme_registration_month  \\
    marts.programme_intake_month         |  (SQLMesh, sources/programme_*: one row per record per month,
    marts.programme_decision_month       |   the record's latest delivery)
    marts.programme_plan_month           |
    marts.programme_session_month        |
    marts.programme_appointment_month    |
    marts.programme_masterclass_month    |
    marts.programme_platform_month      /
      -> marts.programme_firm_quarter     per firm per quarter from its registration on: its current stage at the
                                          quarter's end, the stages it entered and left in the quarter, the stages
                                          reached so far, the intakes, referrals and plans so far (their times
                                          and sessions), and the quarter's sessions, no-shows and financing;
                                          config/releases/programme_funnel.yaml,
                                          programme_conversion.yaml, programme_flow.yaml
      -> marts.programme_firm_platform    per firm per quarter with platform use (any Limburg firm, in the
                                          programme or not: the platform delivers its users' region and size
                                          class): offers used and requested, questions asked and left
                                          unanswered, reported needs;
                                          config/releases/programme_ecosystem.yaml

Both are private (one row per firm per quarter, the privacy unit is the
firm) and reach the programme's funders only through the DP releases.

**A firm's case.** A firm is in the programme once: its first registration
(by date, then case number) is its case; a later registration of the same
firm is counted in the metadata (`later_registrations`), not as a second
firm. Every later record names the case by its `registration_id`; a record
whose firm is not the case's firm is left out and counted (`mismatched`).
Of each record the latest delivery counts (a correction replaces it).

**Stages.** A case moves along a path of stages, each entered on a day:

| stage | entered on |
|---|---|
| `aangemeld` (scouted or self-registered, waiting for the intake) | the registration date |
| `in_ondersteuning` (admitted to the support process) | the intake date, outcome `toegelaten` |
| `doorverwezen` (referred to another initiative) | the intake date, outcome `doorverwezen` |
| `niet_geschikt` (not suitable) | the intake date, outcome `niet_geschikt` |
| `gestopt` (stopped during the support process) | the date of the first decision `stoppen` |
| `plan_opgeleverd` (plan delivered, not financeable) | the plan's delivery date |
| `financierbaar` (financeable plan, financing not obtained yet) | the plan's delivery date |
| `gefinancierd` (financing obtained) | the plan's delivery date, if financing obtained > 0 |

The events are taken in date order (on one day in the order of the table),
so a firm is in exactly one stage on every day from its registration on, and
per stage the firms in it at a quarter's end are the ones that entered it up
to then minus those that left it (tests/test_programme_funnel.py checks this
on released figures without noise). The plans source has no separate
financing date: financing counts on the day the plan was delivered.
"""

from __future__ import annotations

from datetime import date

import duckdb

from core.periods import quarter_of

STAGES = ("aangemeld", "in_ondersteuning", "doorverwezen", "niet_geschikt", "gestopt", "plan_opgeleverd", "financierbaar",
          "gefinancierd")
"""Every stage a firm can be in (the order of a day's events)."""
REACHED = {  # the cumulative funnel: a firm has reached a step when it entered one of these stages
    "reached_intake": ("in_ondersteuning", "doorverwezen", "niet_geschikt"),
    "reached_support": ("in_ondersteuning",),
    "reached_plan": ("plan_opgeleverd", "financierbaar", "gefinancierd"),
    "reached_financeable": ("financierbaar",),
    "reached_financed": ("gefinancierd",),
}
FIRM_QUARTER = "marts.programme_firm_quarter"
FIRM_PLATFORM = "marts.programme_firm_platform"
PLATFORM_LISTS = (  # ';'-joined in the order the firm first did it in the quarter (a release counts the first few)
    ("offers_used", "offer", "kind IN ('bekeken', 'aangevraagd')"),
    ("offers_requested", "offer", "kind = 'aangevraagd'"),
    ("unanswered_topics", "topic", "kind = 'vraag' AND NOT coalesce(answered, false)"),
    ("need_topics", "topic", "kind = 'behoefte'"),
)


def _latest(table: str, key: str) -> str:
    """The latest delivery of every record (over all months it was delivered in)."""
    return f"SELECT * FROM marts.{table} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY delivered_at DESC, month DESC) = 1"


def _quarter_sql(column: str) -> str:
    return f"(strftime({column}, '%Y') || '-Q' || CAST((month({column}) + 2) // 3 AS VARCHAR))"


def build(connection: duckdb.DuckDBPyConnection, today: date | None = None) -> dict[str, int]:
    """Rebuild both programme marts in one transaction (a crash leaves the old ones); returns counts for the metadata."""
    today = today or date.today()
    last = quarter_of(today)
    order = " ".join(f"WHEN '{stage}' THEN {index}" for index, stage in enumerate(STAGES))
    reached = ",\n".join(
        f"  MAX(CASE WHEN s.state IN ({', '.join(repr(stage) for stage in stages)}) AND s.entered_on <= q.quarter_end THEN 1 ELSE 0 END) "
        f"AS {name}" for name, stages in REACHED.items())
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute(f"""
CREATE OR REPLACE TEMP TABLE programme_registrations_now AS {_latest('programme_registration_month', 'registration_id')};
CREATE OR REPLACE TEMP TABLE programme_cases AS
  SELECT * FROM programme_registrations_now
  QUALIFY row_number() OVER (PARTITION BY firm_id ORDER BY registered_on, registration_id) = 1;
CREATE OR REPLACE TEMP TABLE programme_intakes_now AS
  SELECT i.* FROM ({_latest('programme_intake_month', 'registration_id')}) i JOIN programme_cases c USING (registration_id, firm_id);
CREATE OR REPLACE TEMP TABLE programme_plans_now AS
  SELECT p.* FROM ({_latest('programme_plan_month', 'registration_id')}) p JOIN programme_cases c USING (registration_id, firm_id);
CREATE OR REPLACE TEMP TABLE programme_sessions_now AS
  SELECT s.* FROM ({_latest('programme_session_month', 'session_id')}) s JOIN programme_cases c USING (registration_id, firm_id);
CREATE OR REPLACE TEMP TABLE programme_stops AS
  SELECT d.registration_id, d.firm_id, MIN(d.decided_on) AS decided_on
  FROM ({_latest('programme_decision_month', 'decision_id')}) d JOIN programme_cases c USING (registration_id, firm_id)
  WHERE d.decision = 'stoppen' GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE programme_events AS
  SELECT firm_id, registered_on AS day, 'aangemeld' AS state FROM programme_cases
  UNION ALL SELECT firm_id, intake_on, CASE outcome WHEN 'toegelaten' THEN 'in_ondersteuning' ELSE outcome END FROM programme_intakes_now
  UNION ALL SELECT firm_id, decided_on, 'gestopt' FROM programme_stops
  UNION ALL SELECT firm_id, delivered_on, CASE WHEN financeable THEN 'financierbaar' ELSE 'plan_opgeleverd' END FROM programme_plans_now
  UNION ALL SELECT firm_id, delivered_on, 'gefinancierd' FROM programme_plans_now WHERE coalesce(financing_obtained, 0) > 0;
-- the path: consecutive events of the same stage are one step; each step is left when the next one is entered
CREATE OR REPLACE TEMP TABLE programme_path AS
  WITH ordered AS (
    SELECT firm_id, day, state, CASE state {order} END AS rank,
           lag(state) OVER (PARTITION BY firm_id ORDER BY day, CASE state {order} END) AS before
    FROM programme_events)
  SELECT firm_id, state, day AS entered_on,
         lead(day) OVER (PARTITION BY firm_id ORDER BY day, rank) AS left_on, rank
  FROM ordered WHERE before IS NULL OR before <> state;
CREATE OR REPLACE TEMP TABLE programme_quarters AS
  WITH bounds AS (SELECT firm_id, min(registered_on) AS first_day FROM programme_cases GROUP BY 1),
  days AS (SELECT firm_id, unnest(generate_series(date_trunc('quarter', first_day), DATE '{today:%Y-%m-%d}', INTERVAL 3 MONTH)) AS start
           FROM bounds)
  SELECT firm_id, {_quarter_sql('start')} AS quarter, CAST(start AS DATE) AS quarter_start,
         CAST(start + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE) AS quarter_end
  FROM days WHERE {_quarter_sql('start')} <= '{last}';
""")
        connection.execute(f"""
CREATE OR REPLACE TABLE {FIRM_QUARTER} AS
WITH stage_now AS (
  SELECT q.firm_id, q.quarter,
         arg_max(s.state, epoch(s.entered_on) * 10 + s.rank) AS stage
  FROM programme_quarters q JOIN programme_path s ON s.firm_id = q.firm_id AND s.entered_on <= q.quarter_end
  GROUP BY ALL),
moves AS (
  SELECT q.firm_id, q.quarter,
         string_agg(CASE WHEN s.entered_on BETWEEN q.quarter_start AND q.quarter_end THEN s.state END, ';'
                    ORDER BY s.entered_on, s.rank) AS entered,
         string_agg(CASE WHEN s.left_on BETWEEN q.quarter_start AND q.quarter_end THEN s.state END, ';'
                    ORDER BY s.left_on, s.rank) AS left_stages,
{reached}
  FROM programme_quarters q JOIN programme_path s ON s.firm_id = q.firm_id
  GROUP BY ALL),
sessions AS (
  SELECT q.firm_id, q.quarter, count(*) AS sessions_planned, count(*) FILTER (WHERE s.status = 'niet_verschenen') AS no_shows
  FROM programme_quarters q JOIN programme_sessions_now s ON s.firm_id = q.firm_id AND s.session_on BETWEEN q.quarter_start AND q.quarter_end
  GROUP BY ALL),
appointments AS (
  SELECT q.firm_id, q.quarter, count(*) AS appointments, count(*) FILTER (WHERE a.status = 'niet_verschenen') AS appointment_no_shows
  FROM programme_quarters q
  JOIN ({_latest('programme_appointment_month', 'appointment_id')}) a ON a.firm_id = q.firm_id
   AND a.appointment_on BETWEEN q.quarter_start AND q.quarter_end
  GROUP BY ALL),
plan_sessions AS (
  SELECT p.firm_id, count(s.session_id) FILTER (WHERE s.status = 'gehouden') AS held
  FROM programme_plans_now p LEFT JOIN programme_sessions_now s ON s.firm_id = p.firm_id AND s.session_on <= p.delivered_on
  GROUP BY ALL)
SELECT q.firm_id, q.quarter, c.region AS programme_region, c.partner AS programme_partner, c.channel, c.sector, c.size_class,
       n.stage, m.entered, m.left_stages,
       1 AS scouted, m.reached_intake, m.reached_support, m.reached_plan, m.reached_financeable, m.reached_financed,
       -- so far (up to the quarter's end): a quarter has too few intakes, referrals and plans for a figure of its own
       CASE WHEN i.intake_on <= q.quarter_end THEN datediff('day', c.registered_on, i.intake_on) END AS days_to_intake,
       CASE WHEN i.intake_on <= q.quarter_end AND i.outcome = 'doorverwezen' THEN coalesce(i.referred_to, 'anders') END AS referred_to,
       CASE WHEN p.delivered_on <= q.quarter_end THEN 1 ELSE 0 END AS plan_delivered,
       CASE WHEN p.delivered_on <= q.quarter_end AND i.outcome = 'toegelaten'
            THEN datediff('day', i.intake_on, p.delivered_on) END AS days_in_support,
       CASE WHEN p.delivered_on <= q.quarter_end THEN coalesce(ps.held, 0) ELSE 0 END AS plan_sessions,
       coalesce(s.sessions_planned, 0) AS sessions_planned, coalesce(s.no_shows, 0) AS no_shows,
       coalesce(a.appointments, 0) AS appointments, coalesce(a.appointment_no_shows, 0) AS appointment_no_shows,
       CASE WHEN p.delivered_on BETWEEN q.quarter_start AND q.quarter_end AND coalesce(p.financing_obtained, 0) > 0
            THEN CAST(round(p.financing_obtained) AS BIGINT) ELSE 0 END AS financing_obtained_euro
FROM programme_quarters q
JOIN programme_cases c USING (firm_id)
JOIN stage_now n USING (firm_id, quarter)
JOIN moves m USING (firm_id, quarter)
LEFT JOIN programme_intakes_now i USING (firm_id)
LEFT JOIN programme_plans_now p USING (firm_id)
LEFT JOIN plan_sessions ps USING (firm_id)
LEFT JOIN sessions s USING (firm_id, quarter)
LEFT JOIN appointments a USING (firm_id, quarter)
ORDER BY q.quarter, q.firm_id
""")
        lists = ",\n".join(f"""{name} AS (
  SELECT firm_id, quarter, string_agg(item, ';' ORDER BY first_on, item) AS {name}
  FROM (SELECT firm_id, quarter, {item} AS item, min(event_on) AS first_on FROM events WHERE {where} AND {item} IS NOT NULL GROUP BY ALL)
  GROUP BY ALL)""" for name, item, where in PLATFORM_LISTS)
        joined = " ".join(f"LEFT JOIN {name} USING (firm_id, quarter)" for name, _, _ in PLATFORM_LISTS)
        connection.execute(f"""
CREATE OR REPLACE TABLE {FIRM_PLATFORM} AS
WITH events AS (
  SELECT e.firm_id, {_quarter_sql('e.event_on')} AS quarter, e.event_on, e.kind, e.offer, e.topic, e.answered, e.answer_hours,
         e.region, e.size_class
  FROM ({_latest('programme_platform_month', 'event_id')}) e
  UNION ALL  -- attending a masterclass is using that offer
  SELECT m.firm_id, {_quarter_sql('m.held_on')}, m.held_on, 'bekeken', m.masterclass, NULL, NULL, NULL, NULL, NULL
  FROM ({_latest('programme_masterclass_month', 'attendance_id')}) m WHERE m.attended),
base AS (
  SELECT firm_id, quarter, count(*) FILTER (WHERE kind = 'vraag') AS questions,
         count(*) FILTER (WHERE kind = 'vraag' AND NOT coalesce(answered, false)) AS unanswered,
         -- ties on the day are broken by the value itself, so a rebuild gives the same row every time (an erasure changes no other firm)
         arg_min(answer_hours, (event_on, answer_hours)) FILTER (WHERE kind = 'vraag' AND answered AND answer_hours IS NOT NULL) AS answer_hours,
         arg_max(region, (event_on, region)) FILTER (WHERE region IS NOT NULL) AS region,
         arg_max(size_class, (event_on, size_class)) FILTER (WHERE size_class IS NOT NULL) AS size_class
  FROM events WHERE quarter <= '{last}' GROUP BY ALL),
{lists}
SELECT base.firm_id, base.quarter, coalesce(base.region, c.region) AS programme_region, coalesce(base.size_class, c.size_class) AS size_class,
       {', '.join(name for name, _, _ in PLATFORM_LISTS)}, base.questions, base.unanswered, base.answer_hours
FROM base LEFT JOIN programme_cases c USING (firm_id) {joined}
WHERE coalesce(base.region, c.region) IS NOT NULL
ORDER BY base.quarter, base.firm_id
""")
        counts = connection.execute(f"""
SELECT (SELECT count(*) FROM {FIRM_QUARTER}), (SELECT count(DISTINCT firm_id) FROM {FIRM_QUARTER}), (SELECT count(*) FROM {FIRM_PLATFORM}),
       (SELECT count(*) FROM programme_registrations_now) - (SELECT count(*) FROM programme_cases),
       (SELECT count(*) FROM ({_latest('programme_masterclass_month', 'attendance_id')}) m
        ANTI JOIN programme_cases c USING (firm_id) ANTI JOIN marts.programme_platform_month e USING (firm_id))
""").fetchone()
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return {"firm_quarters": counts[0], "firms": counts[1], "platform_firm_quarters": counts[2], "later_registrations": counts[3],
            "masterclasses_without_profile": counts[4]}
