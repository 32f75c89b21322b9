/* Latest answer per firm per wave per question of the CGC pulse survey.
   A firm may submit more than once in a wave (a correction, a second visit);
   per question the most recent non-empty answer counts, so one firm gives
   at most one answer per question per wave. */
MODEL (
  name staging.cgc_answers,
  kind VIEW,
  grain (firm_id, wave, question),
  owner data_engineering,
  audits (
    not_null(columns := (firm_id, wave, question, answer)),
    unique_combination_of_columns(columns := (firm_id, wave, question))
  )
);

WITH answers AS (
  SELECT firm_id, wave, submitted_at, response_id, 'order_book' AS question, order_book AS answer
  FROM raw.cgc_responses
  UNION ALL
  SELECT firm_id, wave, submitted_at, response_id, 'investment' AS question, investment AS answer
  FROM raw.cgc_responses
  UNION ALL
  SELECT firm_id, wave, submitted_at, response_id, 'staff_shortage' AS question, staff_shortage AS answer
  FROM raw.cgc_responses
  UNION ALL
  SELECT firm_id, wave, submitted_at, response_id, 'sentiment' AS question, CAST(sentiment AS VARCHAR) AS answer
  FROM raw.cgc_responses
  UNION ALL
  SELECT
    firm_id, wave, submitted_at, response_id, 'challenges' AS question,
    CASE WHEN LEN(challenges) > 0 THEN ARRAY_TO_STRING(challenges, ';') END AS answer
  FROM raw.cgc_responses
)
SELECT
  firm_id, /* HMAC of the KvK number: the privacy unit */
  wave, /* survey month, 'YYYY-MM' */
  question, /* question code from config/cgc_survey.yaml */
  answer, /* answer code; multi-select answers joined with ';' */
  submitted_at, /* when the counted answer was given */
  response_id /* the submission it came from */
FROM answers
WHERE answer IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY firm_id, wave, question ORDER BY submitted_at DESC, response_id DESC) = 1
