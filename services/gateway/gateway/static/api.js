// The gateway's API as the page uses it: one place that knows the token and turns
// every error answer into a Chinese sentence a person can act on.

const TOKEN = "jietiao_token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN, value); else sessionStorage.removeItem(TOKEN);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(explain(status, body));
    this.status = status;
    this.body = body || {};
    this.fields = (body && body.fields) || [];
  }
}

const STATUS_NAMES = {
  draft: "生成中", awaiting_initiator: "待发起人签署", awaiting_counterparty: "待对方签署",
  effective: "已生效", void_requested: "作废申请中", voided: "已作废", withdrawn: "已撤销",
  refused: "已拒签", expired: "已过期",
};

export function statusName(status) { return STATUS_NAMES[status] || status; }

function explain(status, body) {
  const code = body && body.error;
  if (status === 401) return "登录已失效，请重新登录";
  if (status === 404) return code === "share_link_invalid" ? "链接无效或已过期" : "借条不存在或链接已失效";
  if (status === 409) {
    const now = body && body.status ? `（当前状态：${statusName(body.status)}）` : "";
    return `当前状态不允许此操作${now}`;
  }
  if (status === 422) return (body && body.message) || "填写有误，请检查标出的字段";
  if (status === 429) return (body && body.message) || "操作过于频繁，请稍后再试";
  if (status >= 500) return "服务暂时不可用，请稍后重试";
  return (body && body.message) || "操作未成功，请重试";
}

export async function call(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  if (method === "POST") headers["idempotency-key"] = crypto.randomUUID();
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(503, {});
  }
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!response.ok) {
    if (response.status === 401) session.token = null;
    throw new ApiError(response.status, data);
  }
  return data;
}

export async function documentUrl(iouId, kind) {
  const response = await fetch(`/api/ious/${iouId}/documents/${kind}`, {
    headers: { authorization: `Bearer ${session.token}` },
  });
  if (!response.ok) throw new ApiError(response.status, {});
  return URL.createObjectURL(await response.blob());
}

export function yuan(fen) {
  return (Number(fen) / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
