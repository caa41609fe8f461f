"""Pages served by the gateway itself: the web client and the local face-check page.

The web client is plain ES modules and CSS under ``static/``, served as they are:
no build step, nothing fetched at run time.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from jietiao_shared.errors import ApiError

STATIC = Path(__file__).parent / "static"
ASSETS = {p.name: p for p in STATIC.iterdir() if p.suffix in (".js", ".css", ".html")}

router = APIRouter(include_in_schema=False)

# The page runs only its own files; documents are shown from blob: URLs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
    " object-src blob:; frame-src blob:; connect-src 'self'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff"}


@router.get("/app/{name}")
async def asset(name: str) -> FileResponse:
    """One file of the web client (only the files shipped in ``static/``)."""
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, "not_found", "页面不存在")
    return FileResponse(
        path, headers={"cache-control": "no-cache", "x-content-type-options": "nosniff"}
    )


@router.get("/")
async def web_client() -> FileResponse:
    """The web client's page."""
    return FileResponse(
        STATIC / "index.html", headers={"cache-control": "no-cache", **PAGE_HEADERS}
    )


@router.get("/s")
@router.get("/s/{token}")
async def share_landing(token: str = "") -> FileResponse:
    """A share link (or the SMS's constant ``/s``) opens the web client.

    The page resolves the token itself through ``/api/share/{token}``.
    """
    return FileResponse(
        STATIC / "index.html",
        headers={"cache-control": "no-store", "referrer-policy": "no-referrer", **PAGE_HEADERS},
    )


LOCAL_FACE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>人脸核身（本地模拟）</title>
<style>body{font:16px/1.6 system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;
color:#111}button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem;border-radius:6px;
border:1px solid #0b57d0;background:#0b57d0;color:#fff}button#fail{background:#fff;color:#0b57d0}
button:focus{outline:3px solid #8ab4f8}a{color:#0b57d0}</style></head>
<body><h1>人脸核身（本地模拟）</h1>
<p>这是内置的本地核身服务，用于开发和测试环境。生产环境请配置真实的核身服务商。</p>
<p id="state">核身编号：<code id="vid"></code></p>
<button id="pass">核身通过</button><button id="fail">核身不通过</button>
<p id="result" role="status"></p>
<script>
const vid = location.pathname.split('/').pop();
const back = new URLSearchParams(location.search).get('back') || '';
const safeBack = back.startsWith('/') && !back.startsWith('//') ? back : '';
document.getElementById('vid').textContent = vid;
async function send(outcome) {
  const token = sessionStorage.getItem('jietiao_token');
  const out = document.getElementById('result');
  let r, body = {};
  try {
    r = await fetch('/api/verifications/' + vid + '/local-check', {
      method: 'POST',
      headers: {'content-type': 'application/json', 'authorization': 'Bearer ' + token},
      body: JSON.stringify({outcome})});
    body = await r.json();
  } catch (e) { out.textContent = '网络异常，请重试'; return; }
  out.textContent = r.ok ? (body.status === 'passed' ? '核身通过' : '核身未通过')
    : (body.message || '核身未完成，请重试');
  if (r.ok && safeBack) { out.textContent += '，正在返回…'; location.replace(safeBack); }
}
document.getElementById('pass').onclick = () => send('pass');
document.getElementById('fail').onclick = () => send('fail');
</script></body></html>"""


@router.get("/face/local/{verification_id}", response_class=HTMLResponse)
async def local_face_page(verification_id: str) -> str:
    """The local face provider's check page."""
    return LOCAL_FACE_PAGE
