/* The firm's profile (sector, size class, province) per wave, from its
   latest submission in that wave: the groups a firm counts in. */
MODEL (
  name staging.cgc_profiles,
  kind VIEW,
  grain (firm_id, wave),
  owner data_engineering,
  audits (
    not_null(columns := (firm_id, wave, sector, size_class, province)),
    unique_combination_of_columns(columns := (firm_id, wave))
  )
);

SELECT
  firm_id, /* HMAC of the KvK number */
  wave, /* survey month, 'YYYY-MM' */
  sector, /* SBI section A-U */
  size_class, /* persons employed: 0-1, 2-9, 10-49, 50-249 */
  province, /* CBS province code PV20-PV31 */
  submitted_at AS profile_submitted_at /* submission the profile comes from */
FROM raw.cgc_responses
QUALIFY ROW_NUMBER() OVER (PARTITION BY firm_id, wave ORDER BY submitted_at DESC, response_id DESC) = 1
