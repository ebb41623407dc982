ALTER TABLE form_fields DROP COLUMN decimal_places;
