DROP TABLE notification_levels;
DROP TABLE notifications;
