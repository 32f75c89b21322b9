/* Private mart: one row per firm per wave, the bounded contribution of one
   privacy unit to every CGC release of that wave (one answer per question).
   Never shown to anyone: releases read it through privacy/. */
MODEL (
  name marts.cgc_firm_wave,
  kind FULL,
  grain (firm_id, wave),
  owner data_engineering,
  audits (
    not_null(columns := (firm_id, wave, sector, size_class, province)),
    unique_combination_of_columns(columns := (firm_id, wave)),
    accepted_values(column := order_book, is_in := ('grown', 'same', 'shrunk')),
    accepted_range(column := sentiment, min_v := 1, max_v := 5)
  )
);

SELECT
  p.firm_id, /* HMAC of the KvK number: the privacy unit */
  p.wave, /* survey month, 'YYYY-MM' */
  p.sector, /* SBI section A-U */
  p.size_class, /* persons employed */
  p.province, /* CBS province code */
  MAX(CASE WHEN a.question = 'order_book' THEN a.answer END) AS order_book, /* grown | same | shrunk */
  MAX(CASE WHEN a.question = 'investment' THEN a.answer END) AS investment, /* up | same | down */
  MAX(CASE WHEN a.question = 'staff_shortage' THEN a.answer END) AS staff_shortage, /* none | some | severe */
  CAST(MAX(CASE WHEN a.question = 'sentiment' THEN a.answer END) AS INT) AS sentiment, /* 1 (very negative) - 5 */
  MAX(CASE WHEN a.question = 'challenges' THEN a.answer END) AS challenges /* ';'-joined codes */
FROM staging.cgc_profiles AS p
LEFT JOIN staging.cgc_answers AS a
  ON a.firm_id = p.firm_id AND a.wave = p.wave
GROUP BY p.firm_id, p.wave, p.sector, p.size_class, p.province
