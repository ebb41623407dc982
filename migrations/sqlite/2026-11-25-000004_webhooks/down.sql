DROP TABLE webhook_roles;
DROP TABLE webhook_conditions;
DROP TABLE webhook_response_actions;
DROP TABLE webhook_response_fields;
DROP TABLE webhook_parameters;
DROP TABLE webhooks;
