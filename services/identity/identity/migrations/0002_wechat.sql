-- Mini-program users: the openid WeChat gives for the app, bound to the account
-- whose phone number was verified by a login code. The session key is not kept.
CREATE TABLE wechat_bindings (
    openid      text PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    bound_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wechat_bindings_account ON wechat_bindings (account_id);
