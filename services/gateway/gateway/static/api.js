// The gateway's API as the page uses it: the one place that holds the session
// token (sessionStorage, never a URL) and turns every error answer into a Chinese
// sentence a person can act on. A raw error body is never shown.

const TOKEN = "jietiao_token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN, value); else sessionStorage.removeItem(TOKEN);
  },
};

const STATUS_NAMES = {
  draft: "生成中", awaiting_initiator: "待发起人签署", awaiting_counterparty: "待对方签署",
  effective: "已生效", void_requested: "作废申请中", voided: "已作废", withdrawn: "已撤销",
  refused: "已拒签", expired: "已过期",
};

export function statusName(status) { return STATUS_NAMES[status] || "处理中"; }

// Field errors from request validation carry English text; these say it in Chinese.
const FIELD_CODES = {
  date_from_datetime_parsing: "请选择正确的日期", date_parsing: "请选择正确的日期",
  date_type: "请选择正确的日期", int_parsing: "请填写整数", int_type: "请填写整数",
  greater_than_equal: "数值太小", less_than_equal: "数值太大", string_too_long: "内容过长",
  missing: "请填写此项", string_type: "请填写此项", bool_type: "请选择",
};
const FIELD_LIMITS = { term_months: "借款期限为1至360个月" };
const CJK = /[\u4e00-\u9fff]/;

export function fieldMessage(field) {
  if (field.message && CJK.test(field.message)) return field.message;
  if (FIELD_LIMITS[field.field] && /than/.test(field.code)) return FIELD_LIMITS[field.field];
  return FIELD_CODES[field.code] || "格式不正确，请检查";
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const data = body && typeof body === "object" ? body : {};
    super(explain(status, data, retryAfter));
    this.status = status;
    this.code = data.error || "";
    this.currentStatus = data.status || null;
    this.fields = (Array.isArray(data.fields) ? data.fields : [])
      .map((f) => ({ field: String(f.field || ""), code: String(f.code || ""), message: fieldMessage(f) }));
  }
}

function apiMessage(data, fallback) {
  return typeof data.message === "string" && CJK.test(data.message) ? data.message : fallback;
}

function explain(status, data, retryAfter) {
  const code = data.error;
  if (status === 0) return "网络连接失败，请检查网络后重试";
  if (status === 401) return "登录已失效，请重新登录";
  if (code === "share_link_invalid") return "链接无效或已过期，请让对方重新发送";
  if (status === 404) return code === "iou_not_found" ? "借条不存在，或您不是这份借条的当事人" : "内容不存在或已失效";
  if (status === 403) return apiMessage(data, "您没有权限进行此操作");
  if (status === 409) {
    if (code === "request_in_progress") return "上一次操作还在处理中，请稍候再试";
    const now = data.status ? `借条当前状态为「${statusName(data.status)}」，` : "";
    return `操作未完成：${now}不能进行这一步。页面已刷新，请查看最新状态`;
  }
  if (status === 422) return apiMessage(data, "填写有误，请检查标出的字段");
  if (status === 429) {
    const wait = Number(retryAfter) > 0 ? `请${Math.ceil(Number(retryAfter))}秒后再试` : "请稍后再试";
    return `操作太频繁，${wait}`;
  }
  if (status === 400) return apiMessage(data, "请求有误，请检查后重试");
  if (status >= 500) return code === "face_provider_unavailable" || code === "qr_code_unavailable"
    ? apiMessage(data, "服务暂时不可用，请稍后重试") : "服务暂时不可用，请稍后重试";
  return apiMessage(data, "操作未成功，请重试");
}

function headers(json) {
  const h = {};
  if (json) h["content-type"] = "application/json";
  if (session.token) h.authorization = `Bearer ${session.token}`;
  return h;
}

export async function call(method, path, body) {
  const h = headers(body !== undefined);
  // One key per user action: a retried request never doubles its effect.
  if (method === "POST") h["idempotency-key"] = crypto.randomUUID();
  let response;
  try {
    response = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, {});
  }
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!response.ok) {
    if (response.status === 401) session.token = null;
    throw new ApiError(response.status, data, response.headers.get("retry-after"));
  }
  return data;
}

// A PDF needs the Authorization header, which a plain link cannot send: fetch it
// as a blob and hand out an object URL for an <object> or a download link.
export async function documentUrl(iouId, kind) {
  let response;
  try {
    response = await fetch(`/api/ious/${iouId}/documents/${kind}`, { headers: headers(false) });
  } catch {
    throw new ApiError(0, {});
  }
  if (!response.ok) {
    let data = {};
    try { data = await response.json(); } catch { data = {}; }
    throw new ApiError(response.status, data, response.headers.get("retry-after"));
  }
  return URL.createObjectURL(await response.blob());
}

export function yuan(fen) {
  const n = Number(fen);
  const sign = n < 0 ? "-" : "";
  const abs = Math.abs(n);
  const whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${whole}.${String(abs % 100).padStart(2, "0")}`;
}
