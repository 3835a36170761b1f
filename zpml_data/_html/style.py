"""The kit's one stylesheet, inlined into every page (no network, no fonts fetched)."""

from __future__ import annotations

from zpml_data._html.palette import status_css

STYLE = """
:root{--ink:#1d2330;--muted:#6b7385;--line:#e4e7ee;--bg:#f4f6fa;--train:#3b6fd8;--val:#e8833a;
  --pass:#1e8a4c;--warn:#b26b00;--fail:#c0392b}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1160px;margin:0 auto;padding:28px 24px 48px}
header{background:linear-gradient(135deg,#1f2a44,#2f4f86);color:#fff;border-radius:14px;
  padding:22px 26px;margin-bottom:22px}
.kicker{text-transform:uppercase;letter-spacing:.12em;font-size:11px;opacity:.7;margin:0}
h1{margin:4px 0 2px;font-size:26px;overflow-wrap:anywhere}
header .sub{color:#fff;opacity:.75;margin:0 0 16px;overflow-wrap:anywhere}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.tile{background:rgba(255,255,255,.1);border-radius:10px;padding:10px 14px;font-size:12px}
.tile .big{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums}
.tile.pass{background:#1e8a4c}.tile.warn{background:#b26b00}.tile.fail{background:#c0392b}
section{background:#fff;border:1px solid var(--line);border-radius:14px;padding:18px 22px;
  margin-bottom:22px}
h2{font-size:17px;margin:0 0 10px;overflow-wrap:anywhere}
h3{font-size:14px;margin:16px 0 6px}
.sub{color:var(--muted);margin:0 0 10px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px}
.charts.wide{grid-template-columns:repeat(auto-fill,minmax(480px,1fr))}
figure{margin:0}
.chart,.panel{border:1px solid var(--line);border-radius:10px;padding:10px 12px 6px}
figcaption h3{display:inline;font-size:14px;margin:0}
.latest{display:block;color:var(--muted);font-variant-numeric:tabular-nums;font-size:12px}
figcaption p{margin:2px 0 4px;color:var(--muted);font-size:12px}
svg{width:100%;height:auto;display:block}
.grid{stroke:#eef0f5;stroke-width:1}
.plot{fill:none;stroke:#d5d9e2}
.tick{fill:#8a91a3;font-size:10px}
polyline{fill:none;stroke-width:2.2;stroke-linejoin:round;stroke-linecap:round}
polyline.train{stroke:var(--train)}
polyline.val{stroke:var(--val);stroke-dasharray:6 3}
circle.train{fill:var(--train)}
circle.val{fill:var(--val)}
.empty{fill:var(--muted);font-size:12px;font-style:italic}
.legend{color:var(--muted);margin:0 0 12px}
.key{margin-right:18px}
.key::before{content:"";display:inline-block;width:22px;height:3px;border-radius:2px;
  vertical-align:middle;margin-right:6px}
.key.train::before{background:var(--train)}
.key.val::before{background:repeating-linear-gradient(90deg,var(--val) 0 6px,transparent 6px 9px)}
.bar-row{display:grid;grid-template-columns:minmax(96px,220px) 1fr;align-items:center;gap:10px;
  margin-bottom:8px;overflow-wrap:anywhere}
.bar-row.counted{grid-template-columns:minmax(96px,220px) 72px 1fr}
.bar-row .num{font-variant-numeric:tabular-nums}
.bar{height:28px;border-radius:6px;overflow:hidden}
.bar-row.counted .bar{height:18px;border-radius:4px}
table{border-collapse:collapse;width:100%;margin-top:14px;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}
.num{text-align:right}
.muted{color:#b3b8c4}
tfoot td{font-weight:600;border-bottom:none}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:8px}
.key-dot{margin-right:16px;white-space:nowrap}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:14px}
.band{fill:#f1f2f7}
.band-label{fill:#4a5163;font-size:10px;font-weight:600;paint-order:stroke;stroke:#fff;
  stroke-width:3px}
.panel h3{font-size:14px;margin:0 0 4px}
.axis{fill:#4a5163;font-size:11px}
.note{fill:var(--muted);font-size:10px}
.diagonal{stroke:#9aa1b2;stroke-dasharray:4 4}
circle.ghost{fill:#c9cdd6}
svg circle[class^="s"]{fill-opacity:.8}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;
  color:#fff;background:var(--pass)}
.pill.warning{background:var(--warn)}.pill.error{background:var(--fail)}
.pill.ok{background:#e7f4ec;color:var(--pass)}
td.name{font-weight:600;white-space:nowrap}
.finding{margin:0 0 4px}
details summary{cursor:pointer;color:var(--muted)}
pre.examples{font-size:12px;margin:6px 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
tr.skew td{background:#fff4db}
.hist line.limit{stroke:#333;stroke-width:2;stroke-dasharray:4 3}
.hist line.flag{stroke:var(--fail);stroke-width:2}
.hist text{fill:#4a5163;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px}
.hist text.limit{fill:#1d2330;font-weight:600}
.hist text.flag{fill:var(--fail);font-weight:600}
""" + status_css()
