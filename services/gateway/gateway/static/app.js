// The web client: a hash router and one function per screen. Every action goes
// through the public API; what a person may do comes from the IOU's `actions`.

import { ApiError, call, documentUrl, session, statusName, yuan } from "./api.js";
import { signaturePad } from "./signpad.js";

const app = document.getElementById("app");
const PENDING = "jietiao_pending_iou";
let poller = null;

// --- small helpers -------------------------------------------------------------

function h(html) { const t = document.createElement("template"); t.innerHTML = html.trim(); return t.content; }
function esc(v) { return String(v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }
function show(content, title) {
  app.replaceChildren(content);
  document.title = title ? `${title} · 借条` : "借条";
  app.focus();
}
function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text; box.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}
function fail(error) {
  if (error instanceof ApiError && error.status === 401) { location.hash = "#/login"; }
  toast(error instanceof ApiError ? error.message : "操作未成功，请重试");
}
function stopPolling() { if (poller) { clearInterval(poller); poller = null; } }
function nav() {
  document.getElementById("nav").innerHTML = session.token
    ? '<a href="#/folder">我的合同</a><a href="#/new">发起借条</a><a href="#/logout">退出</a>'
    : '<a href="#/login">登录</a>';
}
function fieldErrors(form, error) {
  form.querySelectorAll(".error[data-for]").forEach((e) => { e.textContent = ""; });
  for (const f of error.fields || []) {
    const slot = form.querySelector(`.error[data-for="${f.field}"]`)
      || form.querySelector('.error[data-for="_form"]');
    if (slot) slot.textContent = f.message;
  }
}

// --- login -----------------------------------------------------------------------

function login() {
  show(h(`
    <h1>登录</h1>
    <form id="login" novalidate>
      <label for="phone">手机号</label>
      <input id="phone" name="phone" inputmode="tel" autocomplete="tel" required>
      <p class="error" data-for="phone"></p>
      <button type="button" id="send">获取验证码</button>
      <label for="code">验证码</label>
      <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6">
      <p class="error" data-for="code"></p>
      <p class="error" data-for="_form"></p>
      <button type="submit">登录</button>
    </form>`), "登录");
  const form = document.getElementById("login");
  document.getElementById("send").addEventListener("click", async () => {
    try {
      await call("POST", "/api/auth/codes", { phone: form.phone.value });
      toast("验证码已发送");
    } catch (e) { fieldErrors(form, e); fail(e); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = await call("POST", "/api/auth/sessions", { phone: form.phone.value, code: form.code.value });
      session.token = body.access_token;
      const pending = sessionStorage.getItem(PENDING);
      sessionStorage.removeItem(PENDING);
      location.hash = pending ? `#/iou/${pending}` : "#/folder";
    } catch (e) { fieldErrors(form, e); fail(e); }
  });
}

// --- folder ----------------------------------------------------------------------

const FILTERS = [["all", "全部"], ["awaiting_me", "待我处理"], ["awaiting_other", "待对方处理"],
  ["effective", "已生效"], ["void_requested", "作废中"], ["ended", "已结束"]];

async function folder(filter = "all") {
  const body = await call("GET", `/api/ious?filter=${filter}`);
  const tabs = FILTERS.map(([key, name]) =>
    `<button type="button" data-filter="${key}" aria-pressed="${key === filter}">${name}</button>`).join("");
  const cards = body.items.map((i) => `
    <a class="card" href="#/iou/${i.id}">
      <span class="status">${statusName(i.status)}</span>
      ${i.my_role === "lender" ? "出借给" : "借自"} ${esc(i.other_name)}
      <div class="muted">¥${yuan(i.principal_fen)} · ${esc(i.amount_in_words)} · 还款日 ${esc(i.repayment_date)}</div>
    </a>`).join("") || '<p class="muted">暂无借条</p>';
  show(h(`<h1>我的合同</h1><div class="tabs" role="group" aria-label="筛选">${tabs}</div>
    <div id="cards">${cards}</div><button type="button" id="new">发起借条</button>`), "我的合同");
  app.querySelectorAll("[data-filter]").forEach((b) =>
    b.addEventListener("click", () => { location.hash = `#/folder/${b.dataset.filter}`; }));
  document.getElementById("new").addEventListener("click", () => { location.hash = "#/new"; });
}

// --- create ----------------------------------------------------------------------

const NOTICE = `《借条告知书》：本平台为出借人与借款人提供电子借条的签署与存证服务，不参与借贷、
不提供资金。请如实填写双方身份信息与借款条件；约定年利率与逾期利率均不得超过借款时一年期贷款市场
报价利率（LPR）的四倍；借条经双方手写签名并通过人脸核身后生效，具有法律约束力；生效后如需作废，
须经双方同意并核身。`;

function personFields(prefix, title) {
  return `<fieldset><legend>${title}</legend>
    <label for="${prefix}-name">姓名</label><input id="${prefix}-name" name="${prefix}.name" autocomplete="off">
    <p class="error" data-for="${prefix}.name"></p>
    <label for="${prefix}-id">身份证号</label><input id="${prefix}-id" name="${prefix}.id_number" autocomplete="off">
    <p class="error" data-for="${prefix}.id_number"></p>
    <label for="${prefix}-phone">手机号</label><input id="${prefix}-phone" name="${prefix}.phone" inputmode="tel">
    <p class="error" data-for="${prefix}.phone"></p></fieldset>`;
}

function createForm() {
  stopPolling();
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  show(h(`
    <h1>发起借条</h1>
    <div class="panel"><h2>借条模板预览</h2><p class="muted">借条 · 借款人向出借人借到人民币……元，
      用于……，按约定日期与还款计划归还本息。双方签署后生效。</p></div>
    <div class="notice" tabindex="0">${NOTICE}</div>
    <label><input type="checkbox" id="accept" style="width:auto"> 我已阅读并同意《借条告知书》</label>
    <form id="create" hidden novalidate>
      <div class="tabs" role="group" aria-label="我的角色">
        <button type="button" data-role="lender" aria-pressed="true">我出借</button>
        <button type="button" data-role="borrower" aria-pressed="false">我借款</button>
      </div>
      ${personFields("me", "我的信息")}
      ${personFields("counterparty", "对方信息")}
      <label for="principal">借款金额（元）</label><input id="principal" name="principal" inputmode="decimal">
      <p class="error" data-for="principal"></p><p class="words" id="words" aria-live="polite"></p>
      <label for="purpose">借款事由</label><input id="purpose" name="purpose" maxlength="200">
      <p class="error" data-for="purpose"></p>
      <div class="row"><div><label for="loan_date">借款日期</label><input id="loan_date" name="loan_date" type="date" value="${today}">
      <p class="error" data-for="loan_date"></p></div>
      <div><label for="term">借款期限（月）</label><input id="term" name="term_months" inputmode="numeric" value="12">
      <p class="error" data-for="term_months"></p></div></div>
      <div class="row"><div><label for="rate">约定年利率（%）</label><input id="rate" name="annual_rate" inputmode="decimal" value="0">
      <p class="error" data-for="annual_rate"></p></div>
      <div><label for="overdue">逾期年利率（%）</label><input id="overdue" name="overdue_rate" inputmode="decimal" value="0">
      <p class="error" data-for="overdue_rate"></p></div></div>
      <label for="payment">支付方式</label><select id="payment" name="payment_method">
        <option value="bank_transfer">银行转账</option><option value="wechat_transfer">微信转账</option>
        <option value="alipay_transfer">支付宝转账</option><option value="cash">现金</option><option value="other">其他</option></select>
      <label for="repayment">还款方式</label><select id="repayment" name="repayment_method">
        <option value="lump_sum">一次性还本付息</option><option value="equal_instalments">等额本息</option>
        <option value="equal_principal">等额本金</option><option value="interest_first">先息后本</option></select>
      <p class="error" data-for="repayment_method"></p>
      <label><input type="checkbox" name="reminders_enabled" style="width:auto"> 开启还款提醒（短信提醒借款人）</label>
      <div id="plan" aria-live="polite"></div>
      <p class="error" data-for="_form"></p>
      <button type="submit">创建并预览</button>
    </form>`), "发起借条");
  const form = document.getElementById("create");
  let role = "lender";
  document.getElementById("accept").addEventListener("change", (e) => { form.hidden = !e.target.checked; });
  form.querySelectorAll("[data-role]").forEach((b) => b.addEventListener("click", () => {
    role = b.dataset.role;
    form.querySelectorAll("[data-role]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
  }));
  const draft = () => {
    const v = (n) => form.elements[n].value.trim();
    return {
      notice: { version: "2026-01", accepted: document.getElementById("accept").checked }, role,
      me: { name: v("me.name"), id_number: v("me.id_number"), phone: v("me.phone") },
      counterparty: { name: v("counterparty.name"), id_number: v("counterparty.id_number"), phone: v("counterparty.phone") },
      principal: v("principal"), purpose: v("purpose"), loan_date: v("loan_date"),
      term_months: Number(v("term_months")) || null, annual_rate: v("annual_rate") || "0",
      overdue_rate: v("overdue_rate") || "0", payment_method: v("payment_method"),
      repayment_method: v("repayment_method"), reminders_enabled: form.elements.reminders_enabled.checked,
    };
  };
  let timer = null;
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => quote(form, draft()), 400); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const iou = await call("POST", "/api/ious", draft());
      location.hash = `#/iou/${iou.id}`;
    } catch (e) { fieldErrors(form, e); fail(e); }
  });
}

async function quote(form, draft) {
  try {
    const terms = await call("POST", "/api/ious/quote", draft);
    fieldErrors(form, { fields: [] });
    document.getElementById("words").textContent = terms.amount_in_words;
    document.getElementById("plan").replaceChildren(planTable(terms));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 422) return;
    const typed = new Set([...form.elements].filter((x) => x.value).map((x) => x.name));
    fieldErrors(form, { fields: e.fields.filter((f) => typed.has(f.field) || f.code === "rate_above_cap") });
  }
}

function planTable(terms) {
  const rows = terms.plan.map((p) => `<tr><td>${p.seq}</td><td>${p.due_date}</td><td>${yuan(p.principal_fen)}</td>
    <td>${yuan(p.interest_fen)}</td><td>${yuan(p.total_fen)}</td></tr>`).join("");
  return h(`<h2>还款计划</h2><table><thead><tr><th>期数</th><th>还款日</th><th>本金</th><th>利息</th><th>合计</th></tr></thead>
    <tbody>${rows}</tbody></table><p class="muted">利息合计 ¥${yuan(terms.total_interest_fen)}，
    还款总额 ¥${yuan(terms.total_fen)}；利率上限：一年期LPR ${terms.lpr.rate}% × 4 = ${terms.lpr.cap}%</p>`);
}

// --- details ---------------------------------------------------------------------

const ACTIONS = {
  sign: "签署", refuse: "拒签", withdraw: "撤销借条", request_void: "申请作废",
  cancel_void: "取消作废申请", confirm_void: "确认作废", refuse_void: "拒绝作废",
};

async function details(id) {
  stopPolling();
  let shown = "";
  const render = async () => {
    const iou = await call("GET", `/api/ious/${id}`);
    const key = `${iou.status}/${iou.version}/${iou.documents.signed_sha256}/${iou.documents.voided_sha256}`;
    if (key === shown || app.querySelector("#work:not([hidden])")) return;
    shown = key;
    show(detailView(iou), "借条详情");
    wire(iou);
  };
  await render();
  poller = setInterval(() => render().catch(() => {}), 1500);
}

function detailView(iou) {
  const t = iou.terms;
  const party = (p) => `<tr><th>${p.role === "lender" ? "出借人" : "借款人"}${p.is_me ? "（我）" : ""}</th>
    <td>${esc(p.name)}<br>${esc(p.id_number)}<br>${esc(p.phone)}</td>
    <td>${p.signed_at ? "已签署" : "未签署"}</td></tr>`;
  const buttons = iou.actions.filter((a) => ACTIONS[a])
    .map((a) => `<button type="button" data-action="${a}" class="${a.includes("refuse") || a === "withdraw" ? "secondary" : ""}">${ACTIONS[a]}</button>`).join("");
  const void_ = iou.void_request ? `<div class="panel">作废申请：${esc(iou.void_request.reason)}
    （${iou.void_request.requested_by === iou.my_role ? "我方" : "对方"}发起，${iou.void_request.status === "open" ? "待对方答复" : "待核身"}）</div>` : "";
  return h(`
    <h1>借条详情 <span class="status" id="status">${statusName(iou.status)}</span></h1>
    ${void_}
    <div class="panel"><strong>¥${yuan(t.principal_fen)}</strong> · <span class="words">${esc(t.amount_in_words)}</span><br>
      借款事由：${esc(t.purpose)}<br>借款日期 ${t.loan_date} · 还款日 ${t.repayment_date}<br>
      年利率 ${t.interest_free ? "无息" : t.annual_rate + "%"} · 逾期年利率 ${t.overdue_rate}%</div>
    <table><tbody>${Object.values(iou.parties).map(party).join("")}</tbody></table>
    <div id="actions">${buttons}</div>
    <section id="work" hidden></section>
    ${iou.status === "awaiting_counterparty" && iou.my_role === iou.initiator_role ? '<h2>发送给对方</h2><div id="share" class="panel">加载中…</div>' : ""}
    ${iou.actions.includes("set_reminders") ? `<label><input type="checkbox" id="reminders" style="width:auto" ${iou.reminders_enabled ? "checked" : ""}> 还款提醒</label>` : ""}
    <h2>文件</h2><div id="docs">
      ${iou.documents.preview_sha256 ? '<button type="button" class="secondary" data-doc="preview">查看预览</button>' : '<p class="muted">预览生成中…</p>'}
      ${iou.documents.signed_sha256 ? '<button type="button" class="secondary" data-doc="signed">下载已签署借条</button>' : ""}
      ${iou.documents.voided_sha256 ? '<button type="button" class="secondary" data-doc="voided">下载作废版</button>' : ""}
    </div><iframe class="doc" id="doc" title="借条文件" hidden></iframe>
    <div id="plan"></div>
    <h2>操作记录</h2><ol id="audit" class="muted"></ol>`);
}

function wire(iou) {
  document.getElementById("plan").replaceChildren(planTable(iou.terms));
  app.querySelectorAll("[data-doc]").forEach((b) => b.addEventListener("click", () => openDoc(iou.id, b.dataset.doc)));
  app.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => act(iou, b.dataset.action)));
  const reminders = document.getElementById("reminders");
  if (reminders) reminders.addEventListener("change", () =>
    call("PUT", `/api/ious/${iou.id}/reminders`, { enabled: reminders.checked }).then(() => toast("已更新还款提醒")).catch(fail));
  if (document.getElementById("share")) shareLinks(iou.id);
  call("GET", `/api/ious/${iou.id}/audit`).then((trail) => {
    document.getElementById("audit").innerHTML = trail.items.map((a) =>
      `<li>${new Date(a.at).toLocaleString("zh-CN")} · ${esc(a.actor)} · ${esc(a.action)}</li>`).join("");
  }).catch(() => {});
}

async function openDoc(id, kind) {
  try {
    const url = await documentUrl(id, kind);
    const frame = document.getElementById("doc");
    frame.src = url; frame.hidden = false;
  } catch (e) { fail(e); }
}

async function shareLinks(id) {
  try {
    const links = await call("GET", `/api/ious/${id}/share-links`);
    const link = links.items[0];
    const box = document.getElementById("share");
    if (!link) { box.textContent = "暂无可用链接"; return; }
    box.replaceChildren(h(`<p>把下面的链接通过微信发给对方：</p><input id="share-url" readonly value="${esc(link.url)}">
      <button type="button" id="copy">复制链接</button>`));
    document.getElementById("copy").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(link.url); toast("链接已复制"); }
      catch { document.getElementById("share-url").select(); toast("请长按复制链接"); }
    });
  } catch (e) { fail(e); }
}

function work(html) {
  const box = document.getElementById("work");
  box.replaceChildren(h(html)); box.hidden = false;
  document.getElementById("actions").hidden = true;
  return box;
}

function done(message) {
  document.getElementById("work").hidden = true;
  document.getElementById("actions").hidden = false;
  toast(message);
}

async function faceCheck(iou, action) {
  const opened = await call("POST", `/api/ious/${iou.id}/verifications`, { action });
  const box = work(`<h2>人脸核身</h2><p>请本人完成人脸核身。当前为本地模拟核身服务。</p>
    <button type="button" id="face">开始人脸核身（本地模拟）</button>`);
  await new Promise((resolve, reject) => {
    box.querySelector("#face").addEventListener("click", async () => {
      try {
        const result = await call("POST", `/api/verifications/${opened.verification_id}/local-check`, { outcome: "pass" });
        if (result.status !== "passed") throw new Error("核身未通过，请重试");
        resolve(result);
      } catch (e) { reject(e); }
    });
  });
}

async function withReason(title, label) {
  const box = work(`<h2>${title}</h2><label for="reason">${label}</label>
    <textarea id="reason" rows="3" maxlength="200"></textarea><p class="error" data-for="reason"></p>
    <button type="button" id="ok">提交</button><button type="button" class="secondary" id="back">返回</button>`);
  return new Promise((resolve) => {
    box.querySelector("#ok").addEventListener("click", () => resolve(box.querySelector("#reason").value));
    box.querySelector("#back").addEventListener("click", () => { done("已取消"); resolve(null); });
  });
}

async function act(iou, action) {
  const base = `/api/ious/${iou.id}`;
  const voidPath = iou.void_request ? `${base}/void-requests/${iou.void_request.id}` : "";
  try {
    if (action === "sign") {
      const box = work(`<h2>手写签名</h2><p class="muted">请先查看借条预览，确认无误后在下方签名。</p>
        <canvas class="pad" id="pad" aria-label="签名区域"></canvas>
        <button type="button" class="secondary" id="clear">清除重签</button><button type="button" id="submit">确认签署</button>`);
      const pad = signaturePad(box.querySelector("#pad"));
      box.querySelector("#clear").addEventListener("click", () => pad.clear());
      await new Promise((resolve, reject) => box.querySelector("#submit").addEventListener("click", async () => {
        if (pad.isEmpty()) { toast("请先签名"); return; }
        try {
          await call("POST", `${base}/signatures`, { document_sha256: iou.documents.preview_sha256, signature: pad.value() });
          resolve();
        } catch (e) { reject(e); }
      }));
      await faceCheck(iou, "sign");
      done("签署完成");
    } else if (action === "refuse" || action === "refuse_void") {
      const reason = await withReason(action === "refuse" ? "拒签" : "拒绝作废", "原因");
      if (reason === null) return;
      await call("POST", action === "refuse" ? `${base}/refuse` : `${voidPath}/refuse`, { reason });
      done("已提交");
    } else if (action === "withdraw") {
      await call("POST", `${base}/withdraw`);
      toast("借条已撤销");
    } else if (action === "request_void") {
      const reason = await withReason("申请作废", "作废理由");
      if (reason === null) return;
      await call("POST", `${base}/void-requests`, { reason });
      await faceCheck(iou, "request_void");
      done("作废申请已提交，等待对方确认");
    } else if (action === "cancel_void") {
      await call("POST", `${voidPath}/cancel`);
      toast("作废申请已取消");
    } else if (action === "confirm_void") {
      await call("POST", `${voidPath}/confirm`);
      await faceCheck(iou, "confirm_void");
      done("已确认作废");
    }
  } catch (e) {
    const box = document.getElementById("work");
    if (box && e instanceof ApiError) { box.hidden = true; document.getElementById("actions").hidden = false; }
    fail(e);
  }
}

// --- share links and routing -----------------------------------------------------

async function shareLanding(token) {
  try {
    const link = await call("GET", `/api/share/${token}`);
    sessionStorage.setItem(PENDING, link.agreement_id);
    history.replaceState(null, "", "/");
    location.hash = session.token ? `#/iou/${link.agreement_id}` : "#/login";
  } catch (e) {
    show(h(`<h1>链接不可用</h1><p>${esc(e.message)}</p><a href="#/login">登录查看我的合同</a>`), "链接不可用");
  }
}

async function route() {
  stopPolling();
  nav();
  const [, page, arg] = location.hash.split("/");
  try {
    if (page === "logout") { session.token = null; location.hash = "#/login"; return; }
    if (!session.token && page !== "login") { location.hash = "#/login"; return; }
    if (page === "login") login();
    else if (page === "new") createForm();
    else if (page === "iou" && arg) await details(arg);
    else await folder(arg || "all");
  } catch (e) { fail(e); }
}

window.addEventListener("hashchange", route);
const share = location.pathname.match(/^\/s\/([A-Za-z0-9_-]+)$/);
if (share) shareLanding(share[1]); else route();
