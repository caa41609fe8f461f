// The web client: a hash router and one function per screen. Every action goes
// through the public API; what a person may do comes from the IOU's `actions`.

import { ApiError, call, documentUrl, session, statusName, yuan } from "./api.js";
import { signaturePad } from "./signpad.js";

const app = document.getElementById("app");
const PENDING = "jietiao_pending_iou"; // the IOU a share link pointed at, until login
const FACE = "jietiao_face"; // the face check under way: {vid, iou, action}
const FLASH = "jietiao_flash"; // a message to show on the next screen
const NOTICE_VERSION = "2026-01";
let poller = null;
let viewing = null; // the document kind open on the details screen, kept across refreshes
let screen = 0; // bumped by each navigation: a slow answer never paints over a newer screen

// --- small helpers -------------------------------------------------------------

function h(html) { const t = document.createElement("template"); t.innerHTML = html.trim(); return t.content; }
function esc(v) { return String(v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }
function $(sel, root = app) { return root.querySelector(sel); }
function show(content, title, ticket = screen) {
  if (ticket !== screen) return false;
  app.replaceChildren(content);
  document.title = title ? `${title} · 借条` : "借条";
  const heading = app.querySelector("h1");
  (heading || app).setAttribute("tabindex", "-1");
  (heading || app).focus({ preventScroll: false });
  return true;
}
function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text; box.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}
function flash(text, kind = "ok") { sessionStorage.setItem(FLASH, JSON.stringify({ text, kind })); }
function takeFlash() {
  const raw = sessionStorage.getItem(FLASH);
  sessionStorage.removeItem(FLASH);
  return raw ? JSON.parse(raw) : null;
}
function banner(message) {
  if (!message) return "";
  return `<div class="banner ${message.kind}" role="status" id="banner">${esc(message.text)}</div>`;
}
function fail(error) {
  const text = error instanceof ApiError ? error.message : "操作未成功，请重试";
  if (error instanceof ApiError && error.status === 401 && !location.hash.startsWith("#/login")) {
    location.hash = "#/login";
    setTimeout(() => toast(text), 100); // after the login screen replaced this one
    return;
  }
  toast(text);
}
function stopPolling() { if (poller) { clearInterval(poller); poller = null; } }
function nav() {
  document.getElementById("nav").innerHTML = session.token
    ? '<a href="#/folder">我的合同</a><a href="#/new">发起借条</a><a href="#/logout">退出</a>'
    : '<a href="#/login">登录</a>';
}
function fieldErrors(form, fields) {
  form.querySelectorAll(".error[data-for]").forEach((e) => { e.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  for (const f of fields) {
    const slot = form.querySelector(`.error[data-for="${f.field}"]`) || form.querySelector('.error[data-for="_form"]');
    if (slot) slot.textContent = slot.textContent ? `${slot.textContent}；${f.message}` : f.message;
    const input = form.querySelector(`[name="${f.field}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
}
function today() { return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10); }
function when(iso) {
  return iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "";
}

// --- home and login --------------------------------------------------------------

function home() {
  show(h(`
    <h1>电子借条</h1>
    <p class="lead">亲友之间借钱，在手机上写一张有法律效力的借条。</p>
    <ol class="steps">
      <li>填写借条：金额自动生成大写，还款计划实时算好</li>
      <li>手写签名并通过人脸核身</li>
      <li>把借条发给对方，对方核身签署后即生效</li>
    </ol>
    <p><a class="button" href="#/login">手机号登录</a></p>
    <p class="muted">双方身份证号和手机号仅当事人可见，对外一律打码。</p>`), "首页");
}

function login() {
  const invited = sessionStorage.getItem(PENDING);
  show(h(`
    <h1>登录</h1>
    ${invited ? '<div class="banner info" role="status">对方邀请您查看并签署一份借条，请先用手机号登录。</div>' : ""}
    <form id="login" novalidate>
      <label for="phone">手机号</label>
      <input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required
        aria-describedby="phone-err">
      <p class="error" data-for="phone" id="phone-err"></p>
      <button type="button" id="send" class="secondary">获取验证码</button>
      <label for="code">验证码</label>
      <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6"
        aria-describedby="code-err">
      <p class="error" data-for="code" id="code-err"></p>
      <p class="error" data-for="_form"></p>
      <button type="submit">登录</button>
    </form>`), "登录");
  const form = document.getElementById("login");
  const send = document.getElementById("send");
  send.addEventListener("click", async () => {
    fieldErrors(form, []);
    if (!/^(\+?86)?1\d{10}$/.test(form.phone.value.replace(/[\s-]/g, ""))) {
      fieldErrors(form, [{ field: "phone", message: "请输入11位中国大陆手机号" }]);
      return;
    }
    try {
      await call("POST", "/api/auth/codes", { phone: form.phone.value });
      toast("验证码已发送，请查收短信");
      let left = 60;
      send.disabled = true;
      const tick = setInterval(() => {
        left -= 1; send.textContent = `重新获取（${left}秒）`;
        if (left <= 0) { clearInterval(tick); send.disabled = false; send.textContent = "获取验证码"; }
      }, 1000);
    } catch (e) { fieldErrors(form, e.fields || []); fail(e); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fieldErrors(form, []);
    if (!/^\d{6}$/.test(form.code.value)) {
      fieldErrors(form, [{ field: "code", message: "请输入短信中的6位验证码" }]);
      return;
    }
    try {
      const body = await call("POST", "/api/auth/sessions", { phone: form.phone.value, code: form.code.value });
      session.token = body.access_token;
      const pending = sessionStorage.getItem(PENDING);
      sessionStorage.removeItem(PENDING);
      location.hash = pending ? `#/iou/${pending}` : "#/folder";
    } catch (e) {
      fieldErrors(form, e.fields || []);
      if (!(e.fields || []).length && e.status === 400) fieldErrors(form, [{ field: "code", message: e.message }]);
      fail(e);
    }
  });
}

// --- folder (我的合同) -------------------------------------------------------------

const FILTERS = [["all", "全部"], ["awaiting_me", "待我处理"], ["awaiting_other", "待对方处理"],
  ["effective", "已生效"], ["void_requested", "作废中"], ["ended", "已结束"]];

async function folder(filter = "all") {
  const ticket = screen;
  if (!FILTERS.some(([key]) => key === filter)) filter = "all";
  const body = await call("GET", `/api/ious?filter=${filter}`);
  const tabs = FILTERS.map(([key, name]) =>
    `<a href="#/folder/${key}" class="chip" ${key === filter ? 'aria-current="page"' : ""}>${name}</a>`).join("");
  const cards = body.items.map((i) => `
    <li><a class="card" href="#/iou/${esc(i.id)}">
      <span class="status s-${esc(i.status)}">${statusName(i.status)}</span>
      ${i.awaiting_me ? '<span class="status todo">待我签署</span>' : ""}
      <strong>${i.my_role === "lender" ? "出借给" : "借自"} ${esc(i.other_name)}</strong>
      <span class="muted block">¥${yuan(i.principal_fen)} · ${esc(i.amount_in_words)} · 还款日 ${esc(i.repayment_date)}</span>
    </a></li>`).join("");
  show(h(`<h1>我的合同</h1>
    <nav class="chips" aria-label="按状态筛选">${tabs}</nav>
    ${cards ? `<ul class="cards" id="cards">${cards}</ul>` : '<p class="muted" id="cards">这里还没有借条</p>'}
    <p><a class="button" href="#/new">发起借条</a></p>`), "我的合同", ticket);
}

// --- create ----------------------------------------------------------------------

const NOTICE = [
  "本平台为自然人之间的借款提供电子借条的填写、签署与存证服务，不参与借贷，不提供、不代收任何资金。",
  "请如实填写出借人与借款人的姓名、居民身份证号和手机号。冒用他人身份签署借条的，依法承担相应责任。",
  "借款金额以人民币计，大写金额由系统根据您填写的数字生成；还款计划按您选择的还款方式自动计算，以分为单位，尾差计入最后一期。",
  "约定年利率和逾期年利率均不得超过借款日一年期贷款市场报价利率（LPR）的四倍；超过部分不受法律保护，系统不予生成借条。",
  "借条须经双方手写签名，并各自通过人脸核身后生效；生效的借条附有双方签名、签署时间和证据页，任何改动均可被发现。",
  "对方签署前，发起人可以撤销借条；超过有效期未签署的借条自动失效。",
  "借条生效后如需作废，须由一方申请并核身、另一方确认并核身；作废后借条不再具有约束力，还款提醒同时停止。",
  "双方的身份证号和手机号仅当事人可见，对外展示时一律打码。平台按法律规定保存操作记录，用于纠纷时举证。",
];

const PAYMENT = { bank_transfer: "银行转账", wechat_transfer: "微信转账", alipay_transfer: "支付宝转账", cash: "现金", other: "其他" };
const REPAYMENT = { lump_sum: "一次性还本付息", equal_instalments: "等额本息", equal_principal: "等额本金", interest_first: "先息后本" };
const options = (map) => Object.entries(map).map(([v, n]) => `<option value="${v}">${n}</option>`).join("");

function personFields(prefix, title) {
  return `<fieldset><legend id="${prefix}-legend">${title}</legend>
    <label for="${prefix}-name">姓名</label>
    <input id="${prefix}-name" name="${prefix}.name" autocomplete="off" aria-describedby="${prefix}-name-err">
    <p class="error" data-for="${prefix}.name" id="${prefix}-name-err"></p>
    <label for="${prefix}-id">身份证号</label>
    <input id="${prefix}-id" name="${prefix}.id_number" autocomplete="off" maxlength="18" aria-describedby="${prefix}-id-err">
    <p class="error" data-for="${prefix}.id_number" id="${prefix}-id-err"></p>
    <label for="${prefix}-phone">手机号</label>
    <input id="${prefix}-phone" name="${prefix}.phone" type="tel" inputmode="tel" aria-describedby="${prefix}-phone-err">
    <p class="error" data-for="${prefix}.phone" id="${prefix}-phone-err"></p>
    <p class="error" data-for="${prefix}"></p></fieldset>`;
}

async function createForm() {
  const ticket = screen;
  const me = await call("GET", "/api/me").catch(() => ({}));
  if (ticket !== screen) return;
  show(h(`
    <h1>发起借条</h1>
    <section class="panel" aria-labelledby="tpl-title" id="template">
      <h2 id="tpl-title">借条模板预览</h2>
      <div class="paper">
        <p class="paper-title">借 条</p>
        <p>今借到 <u>出借人姓名</u>（身份证号：<u>……</u>）人民币 <u>大写金额</u>（¥<u>金额</u>），
          用于 <u>借款事由</u>，借款日期为 <u>年月日</u>，约定年利率 <u>…%</u>，
          按 <u>还款方式</u> 于 <u>还款日期</u> 前归还本息，还款计划附后。逾期按年利率 <u>…%</u> 支付逾期利息。</p>
        <p class="right">借款人：<u>签名</u>　出借人：<u>签名</u></p>
      </div>
    </section>
    <section aria-labelledby="notice-title">
      <h2 id="notice-title">小借条告知书</h2>
      <div class="notice" id="notice" tabindex="0" role="document" aria-label="小借条告知书全文">
        <ol>${NOTICE.map((p) => `<li>${p}</li>`).join("")}</ol>
      </div>
      <label class="check"><input type="checkbox" id="accept"> 我已阅读并同意《小借条告知书》</label>
      <p class="error" data-for="notice.accepted"></p>
    </section>
    <form id="create" hidden novalidate aria-labelledby="form-title">
      <h2 id="form-title">填写借条</h2>
      <div class="tabs" role="radiogroup" aria-label="我的角色">
        <button type="button" role="radio" data-role="lender" aria-checked="true">我出借</button>
        <button type="button" role="radio" data-role="borrower" aria-checked="false">我借款</button>
      </div>
      <p class="error" data-for="notice.version"></p>
      ${personFields("me", "我的信息（出借人）")}
      ${personFields("counterparty", "对方信息（借款人）")}
      <fieldset><legend>借款条件</legend>
      <label for="principal">借款金额（元）</label>
      <input id="principal" name="principal" inputmode="decimal" aria-describedby="principal-err words">
      <p class="error" data-for="principal" id="principal-err"></p>
      <p class="words" id="words" aria-live="polite"></p>
      <label for="purpose">借款事由</label><input id="purpose" name="purpose" maxlength="200" aria-describedby="purpose-err">
      <p class="error" data-for="purpose" id="purpose-err"></p>
      <label for="loan_date">借款日期</label>
      <input id="loan_date" name="loan_date" type="date" value="${today()}" aria-describedby="loan_date-err">
      <p class="error" data-for="loan_date" id="loan_date-err"></p>
      <div class="tabs" role="radiogroup" aria-label="借款周期">
        <button type="button" role="radio" data-period="term" aria-checked="true">按期限</button>
        <button type="button" role="radio" data-period="date" aria-checked="false">按还款日期</button>
      </div>
      <div id="period-term"><label for="term">借款期限（月）</label>
        <input id="term" name="term_months" inputmode="numeric" value="12" aria-describedby="term-err">
        <p class="error" data-for="term_months" id="term-err"></p></div>
      <div id="period-date" hidden><label for="repayment_date">还款日期</label>
        <input id="repayment_date" name="repayment_date" type="date" aria-describedby="repayment_date-err"></div>
      <p class="error" data-for="repayment_date" id="repayment_date-err"></p>
      <div class="row"><div><label for="rate">约定年利率（%）</label>
        <input id="rate" name="annual_rate" inputmode="decimal" value="0" aria-describedby="rate-err cap-hint">
        <p class="error" data-for="annual_rate" id="rate-err"></p></div>
      <div><label for="overdue">逾期年利率（%）</label>
        <input id="overdue" name="overdue_rate" inputmode="decimal" value="0" aria-describedby="overdue-err cap-hint">
        <p class="error" data-for="overdue_rate" id="overdue-err"></p></div></div>
      <p class="muted" id="cap-hint">填 0 表示无息。年利率不得超过借款日一年期LPR的4倍。</p>
      <div id="cap" class="panel warn" role="alert" hidden></div>
      <label for="payment">支付方式</label><select id="payment" name="payment_method">${options(PAYMENT)}</select>
      <div id="note-box" hidden><label for="payment_note">支付方式说明</label>
        <input id="payment_note" name="payment_note" maxlength="100"></div>
      <p class="error" data-for="payment_note"></p>
      <label for="repayment">还款方式</label><select id="repayment" name="repayment_method">${options(REPAYMENT)}</select>
      <p class="error" data-for="repayment_method"></p>
      <label class="check"><input type="checkbox" name="reminders_enabled" id="reminders_enabled">
        开启还款提醒（每期还款日短信提醒借款人）</label>
      </fieldset>
      <section id="plan" aria-live="polite" aria-label="还款计划"></section>
      <p class="error" data-for="counterparty"></p>
      <p class="error" data-for="_form"></p>
      <button type="submit">生成借条并预览</button>
    </form>`), "发起借条");
  const form = document.getElementById("create");
  const accept = document.getElementById("accept");
  let role = "lender";
  let period = "term";
  if (me.phone) form.elements["me.phone"].value = me.phone.replace(/^\+86/, "");
  accept.addEventListener("change", () => {
    form.hidden = !accept.checked;
    if (accept.checked) form.querySelector("[data-role]").focus();
  });
  const radios = (attr, set) => form.querySelectorAll(`[${attr}]`).forEach((b) => b.addEventListener("click", () => {
    form.querySelectorAll(`[${attr}]`).forEach((x) => x.setAttribute("aria-checked", String(x === b)));
    set(b.getAttribute(attr));
    form.dispatchEvent(new Event("input"));
  }));
  radios("data-role", (v) => {
    role = v;
    $("#me-legend", form).textContent = `我的信息（${v === "lender" ? "出借人" : "借款人"}）`;
    $("#counterparty-legend", form).textContent = `对方信息（${v === "lender" ? "借款人" : "出借人"}）`;
  });
  radios("data-period", (v) => {
    period = v;
    $("#period-term", form).hidden = v !== "term";
    $("#period-date", form).hidden = v !== "date";
  });
  form.payment_method.addEventListener("change", () => { $("#note-box", form).hidden = form.payment_method.value !== "other"; });
  const draft = () => {
    const v = (n) => form.elements[n].value.trim();
    return {
      notice: { version: NOTICE_VERSION, accepted: accept.checked }, role,
      me: { name: v("me.name"), id_number: v("me.id_number"), phone: v("me.phone") },
      counterparty: { name: v("counterparty.name"), id_number: v("counterparty.id_number"), phone: v("counterparty.phone") },
      principal: v("principal"), purpose: v("purpose"), loan_date: v("loan_date") || null,
      term_months: period === "term" ? (v("term_months") || null) : null,
      repayment_date: period === "date" ? (v("repayment_date") || null) : null,
      annual_rate: v("annual_rate") || "0", overdue_rate: v("overdue_rate") || "0",
      payment_method: v("payment_method"), payment_note: v("payment_note"),
      repayment_method: v("repayment_method"), reminders_enabled: form.elements.reminders_enabled.checked,
    };
  };
  const touched = new Set();
  let timer = null;
  let asked = 0;
  form.addEventListener("input", (event) => {
    if (event.target && event.target.name) touched.add(event.target.name);
    clearTimeout(timer);
    timer = setTimeout(() => quote(form, draft(), touched, ++asked, () => asked), 300);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const iou = await call("POST", "/api/ious", draft());
      location.hash = `#/iou/${iou.id}`;
    } catch (e) {
      fieldErrors(form, e.fields || []);
      showCap(form, e.fields || []);
      fail(e);
      const first = form.querySelector("[aria-invalid]");
      if (first) first.focus();
    } finally { button.disabled = false; }
  });
}

function showCap(form, fields) {
  const hit = fields.find((f) => f.code === "rate_above_cap");
  const box = $("#cap", form);
  box.hidden = !hit;
  if (hit) {
    box.replaceChildren(h(`<strong>利率超过法定上限</strong>
      <p>${esc(hit.message)}。依照最高人民法院关于民间借贷的司法解释，借贷双方约定的利率超过合同成立时一年期贷款市场报价利率（LPR）四倍的，
      超过部分不受法律保护，因此本平台不能生成这样的借条。请把年利率调低到上限以内（填 0 表示无息）。</p>`));
  }
}

async function quote(form, draft, touched, ticket, latest) {
  let terms;
  try {
    terms = await call("POST", "/api/ious/quote", draft);
  } catch (e) {
    if (ticket !== latest()) return;
    if (!(e instanceof ApiError) || e.status !== 422) return;
    const mine = e.fields.filter((f) => touched.has(f.field) || f.code === "rate_above_cap"
      || (f.field === "repayment_date" && (touched.has("term_months") || touched.has("repayment_date"))));
    fieldErrors(form, mine);
    showCap(form, e.fields);
    if (e.fields.some((f) => f.field === "principal")) $("#words", form).textContent = "";
    return;
  }
  if (ticket !== latest()) return;
  fieldErrors(form, []);
  showCap(form, []);
  $("#words", form).textContent = `大写金额：${terms.amount_in_words}`;
  $("#cap-hint", form).textContent =
    `填 0 表示无息。借款日一年期LPR为 ${terms.lpr.rate}%，年利率上限为 ${terms.lpr.cap}%（LPR的4倍）。`;
  $("#plan", form).replaceChildren(planTable(terms));
}

function planTable(terms) {
  const rows = terms.plan.map((p) => `<tr><td>${p.seq}</td><td>${p.due_date}</td><td>${yuan(p.principal_fen)}</td>
    <td>${yuan(p.interest_fen)}</td><td>${yuan(p.total_fen)}</td></tr>`).join("");
  return h(`<h2>还款计划（${REPAYMENT[terms.repayment_method] || ""}）</h2>
    <div class="scroll"><table><caption class="sr">还款计划，金额单位：元</caption>
    <thead><tr><th scope="col">期数</th><th scope="col">还款日</th><th scope="col">本金</th><th scope="col">利息</th><th scope="col">合计</th></tr></thead>
    <tbody>${rows}</tbody></table></div>
    <p class="muted">本金 ¥${yuan(terms.principal_fen)}，利息合计 ¥${yuan(terms.total_interest_fen)}，还款总额 ¥${yuan(terms.total_fen)}（单位：元）</p>`);
}

// --- details ---------------------------------------------------------------------

const ACTIONS = {
  sign: "签署", refuse: "拒签", withdraw: "撤销借条", request_void: "申请作废",
  cancel_void: "取消作废申请", confirm_void: "确认作废", refuse_void: "拒绝作废",
};
const AUDIT = {
  notice_accepted: "阅读并同意《小借条告知书》", created: "创建借条", preview: "生成预览", signature_captured: "手写签名", signed: "手写签名并通过人脸核身，完成签署",
  verification_passed: "人脸核身通过", verification_failed: "人脸核身未通过", initiated: "发起借条",
  effective: "借条生效", withdrawn: "撤销借条", refused: "拒签", expired: "借条过期",
  reminders_on: "开启还款提醒", reminders_off: "关闭还款提醒", void_request_started: "申请作废",
  void_requested: "申请作废（已核身）", void_confirm_started: "确认作废", void_confirmed: "确认作废（已核身），借条作废", voided: "借条作废",
  void_cancelled: "取消作废申请", void_refused: "拒绝作废", void_request_lapsed: "作废申请过期",
  answer_deadline_passed: "答复期限已过", compensation_completed: "流程已撤回", saga_nudged: "系统重试",
};
const ACTORS = { lender: "出借人", borrower: "借款人", system: "系统" };

function nextStep(iou) {
  const mine = iou.my_role === iou.initiator_role;
  const v = iou.void_request;
  switch (iou.status) {
    case "draft": return "借条正在生成，请稍候…";
    case "awaiting_initiator": return mine ? "请查看借条预览，手写签名并完成人脸核身。" : "等待发起人签署。";
    case "awaiting_counterparty": return mine ? "您已签署，等待对方签署。可以把借条发送给对方。" : "对方已签署，请阅读借条后签署或拒签。";
    case "effective": return "借条已生效，具有法律约束力。";
    case "void_requested":
      if (!v) return "作废申请处理中。";
      if (v.status === "awaiting_verification") return v.requested_by === iou.my_role ? "请完成人脸核身，作废申请才会发给对方。" : "对方正在申请作废。";
      return v.requested_by === iou.my_role ? "已申请作废，等待对方确认；在此之前借条仍然有效。" : "对方申请作废这张借条，请查看理由后确认或拒绝；在此之前借条仍然有效。";
    case "voided": return "借条已作废，不再具有约束力。";
    case "withdrawn": return "借条已被发起人撤销。";
    case "refused": return "对方已拒签，借条未生效。";
    case "expired": return "借条超过有效期未签署，已失效。";
    default: return "";
  }
}

async function details(id) {
  const ticket = screen;
  viewing = null;
  let shown = "";
  let message = takeFlash();
  const render = async () => {
    const iou = await call("GET", `/api/ious/${id}`);
    if (ticket !== screen) return;
    const parties = Object.values(iou.parties).map((p) => `${p.signature_captured}:${p.signed_at}`).join();
    const key = `${iou.status}/${iou.version}/${iou.actions.join()}/${parties}/${JSON.stringify(iou.documents)}/${iou.reminders_enabled}`;
    if (key === shown || $("#work:not([hidden])")) return;
    shown = key;
    show(detailView(iou, message), "借条详情");
    message = null;
    wire(iou);
  };
  await render();
  if (ticket === screen) poller = setInterval(() => render().catch(() => {}), 1500);
}

function detailView(iou, message) {
  const t = iou.terms;
  const party = (p) => `<tr><th scope="row">${ACTORS[p.role]}${p.is_me ? "（我）" : ""}${iou.initiator_role === p.role ? "<br><span class=\"muted\">发起方</span>" : ""}</th>
    <td>${esc(p.name)}<br><span class="mono">${esc(p.id_number)}</span><br><span class="mono">${esc(p.phone)}</span></td>
    <td>${p.signed_at ? `已签署<br><span class="muted">${when(p.signed_at)}</span>` : (p.signature_captured ? "已签名，待核身" : "未签署")}</td></tr>`;
  const me = iou.parties[iou.my_role];
  const buttons = iou.actions.filter((a) => ACTIONS[a]).map((a) => {
    const label = a === "sign" && me.signature_captured ? "重新签名" : ACTIONS[a];
    const style = ["refuse", "refuse_void", "withdraw", "cancel_void"].includes(a) ? "secondary" : "";
    return `<button type="button" data-action="${a}" class="${style}">${label}</button>`;
  }).join("");
  const resume = (iou.actions.includes("sign") && me.signature_captured)
    || (iou.void_request && iou.void_request.status === "awaiting_verification" && iou.void_request.requested_by === iou.my_role);
  const v = iou.void_request;
  const voidBox = v ? `<div class="panel warn" id="void">
      <strong>作废申请</strong>（${v.requested_by === iou.my_role ? "我方" : "对方"}发起，${when(v.created_at)}）<br>
      理由：${esc(v.reason)}</div>` : "";
  const sharing = (iou.status === "awaiting_counterparty" && iou.my_role === iou.initiator_role)
    || (v && v.status === "open" && v.requested_by === iou.my_role);
  const reminders = iou.actions.includes("set_reminders") ? `
    <div class="switch-row"><label for="reminders">还款提醒（每期还款日短信提醒借款人）</label>
    <input type="checkbox" role="switch" id="reminders" ${iou.reminders_enabled ? "checked" : ""}></div>` : "";
  const docs = [["preview", "借条预览", iou.documents.preview_sha256], ["signed", "已签署借条", iou.documents.signed_sha256],
    ["voided", "作废版借条", iou.documents.voided_sha256]].filter((d) => d[2]);
  return h(`
    <h1>借条详情</h1>
    ${banner(message)}
    <p class="state"><span class="status s-${esc(iou.status)}" id="status">${statusName(iou.status)}</span>
      <span id="next">${nextStep(iou)}</span></p>
    ${iou.status === "refused" && refusal(iou) ? `<p>拒签原因：${esc(refusal(iou))}</p>` : ""}
    ${voidBox}
    <div id="actions" class="actions">${buttons}${resume ? '<button type="button" id="resume">继续人脸核身</button>' : ""}</div>
    <section id="work" hidden aria-live="polite"></section>
    <div id="doc-view"></div>
    ${sharing ? '<section class="panel" aria-labelledby="share-title"><h2 id="share-title">发送给对方</h2><div id="share">正在获取链接…</div></section>' : ""}
    ${reminders}
    <section aria-labelledby="terms-title"><h2 id="terms-title">借款条件</h2>
    <dl class="terms">
      <dt>借款金额</dt><dd><strong>¥${yuan(t.principal_fen)}</strong><br><span class="words">${esc(t.amount_in_words)}</span></dd>
      <dt>借款事由</dt><dd>${esc(t.purpose)}</dd>
      <dt>借款周期</dt><dd>${esc(t.loan_date)} 至 ${esc(t.repayment_date)}（${esc(t.term_months)}个月）</dd>
      <dt>约定年利率</dt><dd>${t.interest_free ? "无息" : `${esc(t.annual_rate)}%`}</dd>
      <dt>逾期年利率</dt><dd>${esc(t.overdue_rate)}%</dd>
      <dt>支付方式</dt><dd>${PAYMENT[t.payment_method] || ""}${t.payment_note ? `（${esc(t.payment_note)}）` : ""}</dd>
      <dt>还款方式</dt><dd>${REPAYMENT[t.repayment_method] || ""}</dd>
    </dl></section>
    <section aria-labelledby="parties-title"><h2 id="parties-title">当事人</h2>
    <div class="scroll"><table class="parties"><tbody>${["lender", "borrower"].map((r) => party(iou.parties[r])).join("")}</tbody></table></div></section>
    <section id="plan"></section>
    <section aria-labelledby="docs-title"><h2 id="docs-title">借条文件</h2><div id="docs">
      ${docs.length ? docs.map(([kind, name]) => `<p class="doc-row">${name}
        <button type="button" class="secondary" data-doc="${kind}">查看</button>
        <button type="button" class="secondary" data-download="${kind}">下载</button></p>`).join("") : '<p class="muted">借条文件生成中…</p>'}
      </div></section>
    <section aria-labelledby="audit-title"><h2 id="audit-title">操作记录</h2><ol id="audit" class="audit"></ol>
      <p class="muted" id="chain"></p></section>`);
}

function wire(iou) {
  $("#plan").replaceChildren(planTable(iou.terms));
  app.querySelectorAll("[data-doc]").forEach((b) => b.addEventListener("click", () => viewDoc(iou.id, b.dataset.doc)));
  app.querySelectorAll("[data-download]").forEach((b) => b.addEventListener("click", () => downloadDoc(iou.id, b.dataset.download)));
  app.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => act(iou, b.dataset.action)));
  const resume = $("#resume");
  if (resume) resume.addEventListener("click", () => faceStep(iou, iou.actions.includes("sign") ? "sign" : "request_void"));
  const reminders = $("#reminders");
  if (reminders) reminders.addEventListener("change", async () => {
    try {
      await call("PUT", `/api/ious/${iou.id}/reminders`, { enabled: reminders.checked });
      toast(reminders.checked ? "已开启还款提醒" : "已关闭还款提醒");
    } catch (e) { reminders.checked = !reminders.checked; fail(e); }
  });
  if ($("#share")) shareLinks(iou.id);
  call("GET", `/api/ious/${iou.id}/audit`).then((trail) => {
    $("#audit").innerHTML = trail.items.map((a) =>
      `<li><span class="muted">${when(a.at)}</span> ${ACTORS[a.actor] || esc(a.actor)} · ${AUDIT[a.action] || esc(a.action)}${
        auditReason(a) ? `（理由：${esc(auditReason(a))}）` : ""}</li>`).join("");
    if (trail.chain) $("#chain").textContent = trail.chain.intact ? `操作记录共 ${trail.chain.entries} 条，哈希链校验完整` : "操作记录校验异常，请联系客服";
  }).catch(() => {});
  // Whoever is to sign reads the exact document first: show it straight away.
  if (viewing && iou.documents[`${viewing}_sha256`]) viewDoc(iou.id, viewing);
  else if (iou.actions.includes("sign") && iou.documents.preview_sha256) viewDoc(iou.id, "preview");
}

// Reasons a person typed; other audit details are for operators.
const REASONED = ["refused", "void_request_started", "void_requested", "void_refused"];
function auditReason(item) {
  if (!REASONED.includes(item.action)) return "";
  const detail = item.detail && typeof item.detail === "object" ? item.detail : item;
  return typeof detail.reason === "string" ? detail.reason : "";
}
// For a refusal the end reason is what the counterparty typed; other endings carry a code.
function refusal(iou) { return iou.status === "refused" && iou.end_reason ? iou.end_reason : ""; }

async function viewDoc(id, kind) {
  const box = $("#doc-view");
  if (!box) return;
  viewing = kind;
  try {
    const url = await documentUrl(id, kind);
    if (viewDoc.url) URL.revokeObjectURL(viewDoc.url);
    viewDoc.url = url;
    const name = { preview: "借条预览", signed: "已签署借条", voided: "作废版借条" }[kind];
    const fallback = `<p>当前浏览器无法在页面内显示PDF，请<a href="${url}" download="借条-${kind}.pdf">下载${name}</a>查看。</p>`;
    box.replaceChildren(h(`<h3 class="doc-title">${name}（PDF）</h3>${navigator.pdfViewerEnabled === false ? fallback
      : `<object class="doc" type="application/pdf" data="${url}" aria-label="${name}">${fallback}</object>`}
      <p><a href="${url}" target="_blank" rel="noopener">在新窗口打开</a> · <a href="${url}" download="借条-${kind}.pdf">下载</a></p>`));
  } catch (e) { fail(e); }
}

async function downloadDoc(id, kind) {
  try {
    const url = await documentUrl(id, kind);
    const a = document.createElement("a");
    a.href = url; a.download = `借条-${kind}.pdf`;
    document.body.append(a); a.click(); a.remove();
  } catch (e) { fail(e); }
}

async function shareLinks(id) {
  const box = $("#share");
  try {
    const links = await call("GET", `/api/ious/${id}/share-links`);
    const link = links.items[0];
    if (!box) return;
    if (!link) { box.textContent = "对方已收到短信通知；暂无可分享的链接。"; return; }
    const token = link.url.split("/").pop();
    box.replaceChildren(h(`<p>对方已收到短信通知。您也可以把链接通过微信发给对方，或让对方扫码：</p>
      <label for="share-url">借条链接</label>
      <input id="share-url" readonly value="${esc(link.url)}">
      <button type="button" id="copy">复制链接</button>
      <figure class="qr"><img src="/api/share/${encodeURIComponent(token)}/qr.png" alt="借条链接的二维码" width="180" height="180">
      <figcaption class="muted">链接有效期至 ${when(link.expires_at)}</figcaption></figure>`));
    $("#copy").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(link.url); toast("链接已复制，可粘贴到微信发给对方"); } catch {
        const input = $("#share-url"); input.focus(); input.select(); toast("请长按链接手动复制");
      }
    });
  } catch (e) { if (box) box.textContent = e instanceof ApiError ? e.message : "暂时无法获取链接"; }
}

function work(html) {
  const box = $("#work");
  box.replaceChildren(h(html)); box.hidden = false;
  $("#actions").hidden = true;
  const heading = box.querySelector("h2");
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  return box;
}

function closeWork() {
  const box = $("#work");
  if (box) box.hidden = true;
  const actions = $("#actions");
  if (actions) actions.hidden = false;
}

// The face check: open a session for this action, then go to the provider's page.
// The provider sends the person back to `#/iou/{id}/face`, where the result is read.
async function faceStep(iou, action) {
  const what = { sign: "签署", request_void: "申请作废", confirm_void: "确认作废" }[action];
  const box = work(`<h2>人脸核身</h2>
    <p>为确认是${esc(iou.parties[iou.my_role].name)}本人${what}，请完成人脸核身。核身信息须与借条上填写的姓名和身份证号一致。</p>
    <button type="button" id="face">开始人脸核身</button>
    <button type="button" class="secondary" id="later">稍后再做</button>`);
  box.querySelector("#later").addEventListener("click", () => { closeWork(); toast("可以稍后在借条详情里继续人脸核身"); });
  box.querySelector("#face").addEventListener("click", async () => {
    try {
      const opened = await call("POST", `/api/ious/${iou.id}/verifications`, { action });
      sessionStorage.setItem(FACE, JSON.stringify({ vid: opened.verification_id, iou: iou.id, action }));
      const back = `/#/iou/${iou.id}/face`;
      const url = new URL(opened.url, location.origin);
      if (url.origin === location.origin) location.assign(`${url.pathname}?back=${encodeURIComponent(back)}`);
      else location.assign(url.href);
    } catch (e) { fail(e); }
  });
}

async function faceReturn(id) {
  const raw = sessionStorage.getItem(FACE);
  const face = raw ? JSON.parse(raw) : null;
  if (face && face.iou === id) {
    try {
      let result = await call("GET", `/api/verifications/${face.vid}`);
      if (result.status === "pending") result = await call("POST", `/api/verifications/${face.vid}/complete`);
      if (result.status === "passed") {
        sessionStorage.removeItem(FACE);
        flash({ sign: "人脸核身通过，签署完成", request_void: "人脸核身通过，作废申请已发给对方",
          confirm_void: "人脸核身通过，已确认作废" }[face.action]);
      } else if (result.status === "pending") {
        flash("人脸核身尚未完成，请点“继续人脸核身”再试一次", "warn");
      } else {
        sessionStorage.removeItem(FACE);
        flash("人脸核身未通过：须本人核身，且与借条上的姓名、身份证号一致。请重新核身。", "error");
      }
    } catch (e) { flash(e instanceof ApiError ? e.message : "无法获取核身结果，请重试", "error"); }
  }
  location.replace(`#/iou/${id}`);
}

async function withReason(title, label, submit) {
  const box = work(`<h2>${title}</h2><form id="reason-form" novalidate>
    <label for="reason">${label}</label>
    <textarea id="reason" name="reason" rows="3" maxlength="200" aria-describedby="reason-err"></textarea>
    <p class="error" data-for="reason" id="reason-err"></p>
    <button type="submit">${submit}</button><button type="button" class="secondary" id="back">返回</button></form>`);
  return new Promise((resolve) => {
    const form = box.querySelector("#reason-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = form.reason.value.trim();
      if (!reason) { fieldErrors(form, [{ field: "reason", message: "请填写原因" }]); return; }
      resolve({ reason, form });
    });
    box.querySelector("#back").addEventListener("click", () => { closeWork(); resolve(null); });
  });
}

async function confirmStep(title, text, yes) {
  const box = work(`<h2>${title}</h2><p>${text}</p>
    <button type="button" id="yes" class="danger">${yes}</button><button type="button" class="secondary" id="no">返回</button>`);
  return new Promise((resolve) => {
    box.querySelector("#yes").addEventListener("click", () => resolve(true));
    box.querySelector("#no").addEventListener("click", () => { closeWork(); resolve(false); });
  });
}

async function signStep(iou) {
  const box = work(`<h2>手写签名</h2>
    <p>请确认借条内容无误后，在下方框内用手指或鼠标写下您的姓名（${esc(iou.parties[iou.my_role].name)}）。签名将绑定您所看到的这一版借条。</p>
    <canvas class="pad" id="pad" aria-label="签名区域：按住并拖动书写"></canvas>
    <p class="error" id="pad-err" role="alert"></p>
    <button type="button" class="secondary" id="clear">清除重写</button>
    <button type="button" id="submit">确认签名</button>
    <button type="button" class="secondary" id="back">返回</button>`);
  const pad = signaturePad(box.querySelector("#pad"));
  box.querySelector("#clear").addEventListener("click", () => { pad.clear(); box.querySelector("#pad-err").textContent = ""; });
  box.querySelector("#back").addEventListener("click", () => { pad.destroy(); closeWork(); });
  return new Promise((resolve) => {
    box.querySelector("#submit").addEventListener("click", async () => {
      if (pad.isEmpty()) { box.querySelector("#pad-err").textContent = "请先在框内写下您的签名"; return; }
      const button = box.querySelector("#submit");
      button.disabled = true;
      try {
        await call("POST", `/api/ious/${iou.id}/signatures`, { document_sha256: iou.documents.preview_sha256, signature: pad.value() });
        pad.destroy();
        resolve(true);
      } catch (e) {
        button.disabled = false;
        if (e instanceof ApiError && e.status === 422) box.querySelector("#pad-err").textContent = e.fields.length ? e.fields.map((f) => f.message).join("；") : e.message;
        else { pad.destroy(); closeWork(); fail(e); resolve(false); }
      }
    });
  });
}

async function act(iou, action) {
  const base = `/api/ious/${iou.id}`;
  const voidPath = iou.void_request ? `${base}/void-requests/${iou.void_request.id}` : "";
  try {
    if (action === "sign") {
      if (!iou.documents.preview_sha256) { toast("借条预览还在生成，请稍候"); return; }
      if (await signStep(iou)) await faceStep(iou, "sign");
    } else if (action === "refuse" || action === "refuse_void") {
      const got = await withReason(action === "refuse" ? "拒签" : "拒绝作废",
        action === "refuse" ? "拒签原因（发起人会看到）" : "拒绝作废的原因（对方会看到）", action === "refuse" ? "确认拒签" : "确认拒绝作废");
      if (!got) return;
      await call("POST", action === "refuse" ? `${base}/refuse` : `${voidPath}/refuse`, { reason: got.reason });
      closeWork(); toast(action === "refuse" ? "已拒签，发起人会收到通知" : "已拒绝作废，借条继续有效");
    } else if (action === "withdraw") {
      if (!(await confirmStep("撤销借条", "撤销后借条作废，发给对方的链接失效，对方无法再签署。确定撤销吗？", "确认撤销"))) return;
      await call("POST", `${base}/withdraw`);
      closeWork(); toast("借条已撤销");
    } else if (action === "request_void") {
      const got = await withReason("申请作废", "作废理由（对方会看到）", "下一步：人脸核身");
      if (!got) return;
      await call("POST", `${base}/void-requests`, { reason: got.reason });
      await faceStep(iou, "request_void");
    } else if (action === "cancel_void") {
      if (!(await confirmStep("取消作废申请", "取消后借条继续有效。确定取消作废申请吗？", "确认取消"))) return;
      await call("POST", `${voidPath}/cancel`);
      closeWork(); toast("作废申请已取消，借条继续有效");
    } else if (action === "confirm_void") {
      if (!(await confirmStep("确认作废", `对方申请作废这张借条，理由：${esc(iou.void_request.reason)}。确认作废并完成人脸核身后，借条不再具有约束力。`, "确认作废并核身"))) return;
      await call("POST", `${voidPath}/confirm`);
      await faceStep(iou, "confirm_void");
    }
  } catch (e) {
    closeWork();
    fail(e);
  }
}

// --- share links and routing -----------------------------------------------------

async function shareLanding(token) {
  history.replaceState(null, "", "/"); // the share token leaves the address bar
  if (!token) { location.hash = session.token ? "#/folder/awaiting_me" : "#/login"; return; }
  try {
    const link = await call("GET", `/api/share/${encodeURIComponent(token)}`);
    sessionStorage.setItem(PENDING, link.agreement_id);
    if (session.token) sessionStorage.removeItem(PENDING);
    location.hash = session.token ? `#/iou/${link.agreement_id}` : "#/login";
  } catch (e) {
    nav();
    show(h(`<h1>链接不可用</h1><div class="banner error" role="alert">${esc(e.message)}</div>
      <p>借条链接可能已过期、已被撤销，或借条已结束。请联系对方重新发送，或登录后在“我的合同”中查看。</p>
      <p><a class="button" href="#/folder">登录查看我的合同</a></p>`), "链接不可用");
  }
}

async function route() {
  screen += 1;
  stopPolling();
  document.getElementById("toast").hidden = true;
  nav();
  const [, page, arg, sub] = location.hash.split("/");
  try {
    if (page === "logout") { session.token = null; location.hash = "#/"; return; }
    if (!page) { if (session.token) location.hash = "#/folder"; else home(); return; }
    if (!session.token && page !== "login") { location.hash = "#/login"; return; }
    if (page === "login") login();
    else if (page === "new") await createForm();
    else if (page === "iou" && arg && sub === "face") await faceReturn(arg);
    else if (page === "iou" && arg) await details(arg);
    else await folder(arg || "all");
  } catch (e) {
    if (e instanceof ApiError && e.status !== 401) {
      show(h(`<h1>出错了</h1><div class="banner error" role="alert">${esc(e.message)}</div>
        <p><a class="button" href="#/folder">返回我的合同</a></p>`), "出错了");
    } else fail(e);
  }
}

window.addEventListener("hashchange", route);
const share = location.pathname.match(/^\/s(?:\/([A-Za-z0-9_-]+))?\/?$/);
if (share) shareLanding(share[1] || ""); else route();
