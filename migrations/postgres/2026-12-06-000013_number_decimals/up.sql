-- A Number form field's decimal places (issue 13): values are shown with exactly this
-- many decimals (`45.50`) and input with more is refused. NULL: shown as stored.
-- A column of its own rather than a key inside `options`, which holds a single select's
-- option list.
ALTER TABLE form_fields ADD COLUMN decimal_places INTEGER;
