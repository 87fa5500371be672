/** The timeline page's style sheet, inlined in the page whichever way it is delivered. */
export const PAGE_CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2329;background:#fff}
main{max-width:1200px;margin:0 auto;padding:12px 20px 40px}
h1{font-size:20px;margin:4px 0}
h2{font-size:16px;margin:18px 0 6px}
.sub{color:#56606b;margin:0 0 6px}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e8edf2}
.status.live{background:#d7f5dd;color:#14532d}
.status.ended{background:#e3e8ff;color:#1e3a8a}
.status.problem{background:#fde2e2;color:#7f1d1d}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:4px 0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.buckets{display:grid;grid-template-columns:repeat(auto-fill,minmax(14px,1fr));gap:2px;max-width:900px}
.bucket{height:18px;border-radius:2px;font-size:9px;color:#fff;text-align:center;line-height:18px;overflow:hidden}
.bucket.moving{outline:2px solid #111;outline-offset:-2px;background-image:repeating-linear-gradient(45deg,rgba(255,255,255,.45) 0 3px,transparent 3px 6px)}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #e2e6ea;padding:3px 8px;text-align:left;white-space:nowrap}
th{font-weight:600;color:#56606b}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.flows{white-space:normal;max-width:26em;overflow-wrap:anywhere}
tr[data-phase=Running]{background:#fff8db}
tr[data-phase=Failed]{background:#fde2e2}
tr.selected{outline:2px solid #2563eb}
.phase{font-weight:600}
button{font:inherit;font-size:12px;padding:1px 8px;cursor:pointer}
#operation{border:1px solid #cfd6dd;border-radius:6px;padding:8px 14px 12px;margin-top:14px;background:#fcfdfe}
#operation h2{margin-top:6px}
.steps{font-size:12px;margin:8px 0 0;max-width:900px}
.step{display:grid;grid-template-columns:60px 1fr 150px;gap:8px;align-items:center;height:16px}
.step .track{position:relative;height:10px;background:#eef2f6;border-radius:2px}
.step .bar{position:absolute;top:0;height:10px;border-radius:2px}
.step.scale .track{background:none;display:flex;justify-content:space-between;color:#56606b;height:auto}
.step .when{color:#56606b;font-variant-numeric:tabular-nums}
.token{margin:16px 0}
.token input{font:inherit;width:28em}
.error{color:#b91c1c}
.u-legend{font-size:12px}
`;
