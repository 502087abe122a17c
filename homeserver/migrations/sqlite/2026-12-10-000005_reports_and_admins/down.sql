DROP TABLE reports;
DROP TABLE account_flags;
