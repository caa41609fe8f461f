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


@router.get("/app/{name}")
async def asset(name: str) -> FileResponse:
    """One file of the web client (only the files shipped in ``static/``)."""
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, "not_found", "页面不存在")
    return FileResponse(path, headers={"cache-control": "no-cache"})


@router.get("/")
async def web_client() -> FileResponse:
    """The web client's page."""
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


@router.get("/s/{token}")
async def share_landing(token: str) -> FileResponse:
    """A share link opens the web client, which resolves the token itself."""
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})


LOCAL_FACE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>人脸核身（本地模拟）</title>
<style>body{font:16px/1.6 system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem}</style></head>
<body><h1>人脸核身（本地模拟）</h1>
<p>这是内置的本地核身服务，用于开发和测试环境。生产环境请配置真实的核身服务商。</p>
<p id="state">核身编号：<code id="vid"></code></p>
<button id="pass">核身通过</button><button id="fail">核身不通过</button>
<p id="result" role="status"></p>
<script>
const vid = location.pathname.split('/').pop();
document.getElementById('vid').textContent = vid;
async function send(outcome) {
  const token = sessionStorage.getItem('jietiao_token');
  const r = await fetch('/api/verifications/' + vid + '/local-check', {
    method: 'POST',
    headers: {'content-type': 'application/json', 'authorization': 'Bearer ' + token},
    body: JSON.stringify({outcome})});
  const body = await r.json();
  document.getElementById('result').textContent =
    r.ok ? ('结果：' + body.status) : (body.message || '出错了');
}
document.getElementById('pass').onclick = () => send('pass');
document.getElementById('fail').onclick = () => send('fail');
</script></body></html>"""


@router.get("/face/local/{verification_id}", response_class=HTMLResponse)
async def local_face_page(verification_id: str) -> str:
    """The local face provider's check page."""
    return LOCAL_FACE_PAGE
