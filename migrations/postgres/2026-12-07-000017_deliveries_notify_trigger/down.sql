DROP TRIGGER deliveries_notify ON deliveries;
DROP FUNCTION hookdesk_deliveries_notify();
