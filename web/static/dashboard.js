// The dashboard: a snapshot and then one update a second from GET /v1/events (server-sent
// events); orders are placed and paid through the HTTP API. No library, no build step.
"use strict";

const STATES = ["CREATED", "VALIDATED", "FAILED", "SHIPPED"];
const RECENT = 50;
const view = { orders: new Map(), bursts: new Map(), emails: new Map(), rates: [], stock: [] };

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function keep(map, key, value) {
  map.set(key, value);
  while (map.size > RECENT) map.delete(map.keys().next().value);
}

// The live feed -------------------------------------------------------------------------------

// Server-sent events read with fetch rather than EventSource, which cannot send the token of
// a worker with API_READ_TOKEN; a lost or refused stream is opened again after RETRY_MS.
const RETRY_MS = 2000;

async function connect() {
  for (;;) {
    try {
      const response = await fetch("/v1/events", { headers: authorization() });
      if (response.status === 401) {
        setStatus("needs a token (above)", false);
      } else if (!response.ok) {
        setStatus(`stream refused (${response.status}); retrying…`, false);
      } else {
        setStatus("live", true);
        await readEvents(response.body.pipeThrough(new TextDecoderStream()).getReader());
        setStatus("reconnecting…", false);
      }
    } catch (error) {
      setStatus("reconnecting…", false);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

async function readEvents(reader) {
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const lines = buffer.slice(0, end).split("\n");
      buffer = buffer.slice(end + 2);
      const name = lines.find((line) => line.startsWith("event: "))?.slice(7);
      const data = lines.filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
      if (name === "snapshot") onSnapshot(JSON.parse(data));
      if (name === "update") onUpdate(JSON.parse(data));
    }
  }
}

function onSnapshot(snapshot) {
  view.orders.clear(); view.bursts.clear(); view.emails.clear();
  apply(snapshot);
  view.rates = snapshot.rates;
  render();
}

function onUpdate(update) {
  apply(update);
  view.rates.push(update.rate);
  view.rates = view.rates.slice(-60);
  render();
}

// The token the page sends (API_TOKEN for writes, API_READ_TOKEN for reads), kept for this tab.
function authorization() {
  const token = sessionStorage.getItem("token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function apply(message) {
  for (const order of message.orders ?? []) keep(view.orders, order.id, order);
  for (const burst of message.bursts ?? []) keep(view.bursts, `${burst.customerId} ${burst.windowStart}`, burst);
  for (const email of message.emails ?? []) keep(view.emails, email.orderId, email);
  if (message.stock) view.stock = message.stock;
}

function setStatus(text, live) {
  $("status").textContent = text;
  $("status").classList.toggle("live", live);
}

// Rendering ------------------------------------------------------------------------------------

function render() {
  renderChart();
  $("orders").replaceChildren(...[...view.orders.values()].reverse().map((order) => element("tr",
    { "data-order": order.id },
    element("td", {}, orderLink(order.id)), element("td", {}, order.customerId),
    element("td", {}, order.product), element("td", {}, order.quantity),
    element("td", {}, Number(order.price).toFixed(2)),
    element("td", {}, element("span", { class: `state ${order.state}`, "data-testid": "state" },
      order.state + (order.failedChecks ? ` (${order.failedChecks.join(", ")})` : ""))))));
  $("stock").replaceChildren(...view.stock.map((level) => element("tr", {},
    element("td", {}, level.product), element("td", {}, level.stock),
    element("td", {}, level.reserved), element("td", {}, level.available))));
  $("bursts").replaceChildren(...orNone([...view.bursts.values()].reverse().map((burst) => element("li", {},
    `${burst.firstName ?? ""} ${burst.lastName ?? ""} (customer ${burst.customerId}): `
    + `${burst.orders} orders, ${Number(burst.total).toFixed(2)} between `
    + `${time(burst.windowStart)} and ${time(burst.windowEnd)}`))));
  $("emails").replaceChildren(...orNone([...view.emails.values()].reverse().map((email) => element("li", {},
    `${time(email.sentAt)} to ${email.to}: ${email.subject} (${email.deliveredBy})`))));
}

function orNone(items) {
  return items.length ? items : [element("li", { class: "none" }, "none yet")];
}

function renderChart() {
  const chart = $("chart");
  const rates = view.rates.slice(-60);
  const totals = rates.map((rate) => STATES.reduce((sum, state) => sum + (rate.counts[state] ?? 0), 0));
  const top = Math.max(1, ...totals);
  const width = 600 / 60;
  const bars = [];
  rates.forEach((rate, index) => {
    let y = 120;
    for (const state of STATES) {
      const height = ((rate.counts[state] ?? 0) / top) * 115;
      if (height > 0) {
        y -= height;
        const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
        bar.setAttribute("x", (60 - rates.length + index) * width);
        bar.setAttribute("y", y);
        bar.setAttribute("width", width - 1);
        bar.setAttribute("height", height);
        bar.setAttribute("style", `fill: var(--${state.toLowerCase()})`);
        bars.push(bar);
      }
    }
  });
  chart.replaceChildren(...bars);
  const last = rates.at(-1)?.counts ?? {};
  $("now").replaceChildren(...STATES.flatMap((state) => [
    element("dt", { class: "legend" }, element("span", { class: `state ${state}` }, state)),
    element("dd", {}, `${last[state] ?? 0}/s`)]),
    element("dt", { class: "peak" }, "chart's top"), element("dd", { class: "peak" }, `${top}/s`));
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

function orderLink(id) {
  const link = element("a", { href: `#${encodeURIComponent(id)}`, class: "order" }, id);
  link.addEventListener("click", (event) => { event.preventDefault(); showTimeline(id); });
  return link;
}

// Placing, paying, finding -------------------------------------------------------------------

async function send(method, path, body) {
  const response = await fetch(path, {
    method, headers: { "Content-Type": "application/json", ...authorization() },
    body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const details = answer.details ? ` ${JSON.stringify(answer.details)}` : "";
    throw new Error(`${response.status}: ${answer.error ?? response.statusText}${details}`);
  }
  return answer;
}

function newOrderId() {
  return `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

async function placeOrder(event) {
  event.preventDefault();
  const form = event.target;
  const fields = Object.fromEntries(new FormData(form));
  const note = $("placed");
  try {
    const order = await send("POST", "/v1/orders", {
      id: fields.id, customerId: Number(fields.customerId), product: fields.product,
      quantity: Number(fields.quantity), price: Number(fields.price) });
    note.className = "note";
    note.textContent = `Placed ${order.id}: ${order.quantity} x ${order.product}. Watch its row.`;
    keep(view.orders, order.id, view.orders.get(order.id) ?? order);
    render();
    form.elements.id.value = newOrderId();
  } catch (error) {
    note.className = "note error";
    note.textContent = `Not placed: ${error.message}`;
  }
}

async function showTimeline(id) {
  $("timeline-panel").hidden = false;
  $("timeline-order").textContent = id;
  $("timeline-note").className = "note";
  $("timeline-note").textContent = "";
  $("pay").hidden = true;
  try {
    const response = await fetch(`/v1/orders/${encodeURIComponent(id)}/timeline`,
                                 { headers: authorization() });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${response.status}: ${answer.error}`);
    $("timeline").replaceChildren(...answer.events.map((event) => element("tr", {},
      element("td", {}, new Date(event.timestamp).toISOString()), element("td", {}, event.topic),
      element("td", {}, `${event.partition}@${event.offset ?? "?"}`),
      element("td", { class: "summary" }, event.summary))));
    const summaries = answer.events.map((event) => event.summary);
    const paid = answer.events.some((event) => event.topic === "payments-by-order");
    const order = view.orders.get(id);
    $("pay").hidden = paid || !summaries.includes("VALIDATED") || !order;
    $("pay").onclick = () => pay(order);
    if (answer.dropped) $("timeline-note").textContent = `${answer.dropped} later events not kept.`;
  } catch (error) {
    $("timeline").replaceChildren();
    $("timeline-note").className = "note error";
    $("timeline-note").textContent = error.message;
  }
}

async function pay(order) {
  try {
    await send("POST", "/v1/payments", {
      id: `pay-${order.id}`, orderId: order.id, ccy: "EUR",
      amount: Math.round(order.quantity * order.price * 100) / 100 });
    $("timeline-note").className = "note";
    $("timeline-note").textContent = "Paid: the email follows; open the timeline again to see it.";
    $("pay").hidden = true;
  } catch (error) {
    $("timeline-note").className = "note error";
    $("timeline-note").textContent = `Not paid: ${error.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("worker").textContent = location.host;
  $("token").value = sessionStorage.getItem("token") ?? "";
  $("token").addEventListener("change", (event) => sessionStorage.setItem("token", event.target.value.trim()));
  $("place").elements.id.value = newOrderId();
  $("place").addEventListener("submit", placeOrder);
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    showTimeline(new FormData(event.target).get("id").trim());
  });
  $("timeline-close").addEventListener("click", () => { $("timeline-panel").hidden = true; });
  render();
  connect();
});
