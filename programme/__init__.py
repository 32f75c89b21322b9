"""The Limburg SME support programme (issue 14): its funnel and ecosystem marts, and the consultants' caseloads."""
