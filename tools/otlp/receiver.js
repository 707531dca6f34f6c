// receiver.js PORT OUTDIR - an OTLP/HTTP traces receiver for the tests.
//
// Decodes every POST /v1/traces with OpenTelemetry's own classes (the
// protobufjs code generated from the OTLP .proto files, shipped by
// @opentelemetry/otlp-transformer): application/x-protobuf with
// ExportTraceServiceRequest.decode, application/json with
// ExportTraceServiceRequest.fromObject after turning the OTLP JSON hex ids
// into bytes; gzip bodies are inflated first.  Each span is appended to
// OUTDIR/spans.ndjson as one flat JSON line (hex ids, int64 as strings,
// attributes as an object); each request to OUTDIR/requests.ndjson.
//
// Control (for fault injection): GET /control?status=S&count=N[&retryAfter=SEC]
// answers the next N trace requests with status S (without decoding them);
// GET /control?partial=K answers the next one 200 with partial_success
// rejected_spans K.  GET /stats: counts so far.  Prints "listening" when ready.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');

const port = Number(process.argv[2]);
const outdir = process.argv[3];
const mods = process.env.OTLP_NODE_MODULES;
const root = require(path.resolve(mods, '@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const v1 = root.opentelemetry.proto.collector.trace.v1;
const Req = v1.ExportTraceServiceRequest;
const Resp = v1.ExportTraceServiceResponse;

const spansOut = fs.openSync(path.join(outdir, 'spans.ndjson'), 'a');
const reqsOut = fs.openSync(path.join(outdir, 'requests.ndjson'), 'a');
const stats = { requests: 0, byStatus: {}, spans: 0, decodeErrors: 0, lastError: '' };
let fault = { status: 0, count: 0, retryAfter: '' };
let partial = 0;

const hex = (b) => Buffer.from(b || []).toString('hex');

function anyValue(v) {
	if (!v) return null;
	if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
	if (v.intValue !== undefined && v.intValue !== null) return String(v.intValue);
	if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
	if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
	if (v.arrayValue) return (v.arrayValue.values || []).map(anyValue);
	return null;
}

function attrs(list) {
	const o = {};
	for (const kv of list || []) o[kv.key] = anyValue(kv.value);
	return o;
}

// OTLP JSON -> the object fromObject expects: hex ids become bytes.
function jsonIdsToBytes(obj) {
	for (const rs of obj.resourceSpans || [])
		for (const ss of rs.scopeSpans || [])
			for (const s of ss.spans || [])
				for (const k of ['traceId', 'spanId', 'parentSpanId'])
					if (typeof s[k] === 'string') {
						if (!/^([0-9a-f]{2})*$/.test(s[k])) throw new Error(`${k} is not lower-case hex: ${s[k]}`);
						s[k] = Buffer.from(s[k], 'hex');
					}
	return obj;
}

function decode(ctype, body) {
	if (ctype.startsWith('application/x-protobuf')) return Req.decode(body);
	if (ctype.startsWith('application/json')) {
		// fromObject takes the protobuf JSON mapping (int64 as strings,
		// enums as numbers) and throws on a wrong shape; the round trip
		// through the wire format checks that the message encodes.
		const msg = Req.fromObject(jsonIdsToBytes(JSON.parse(body.toString('utf8'))));
		return Req.decode(Req.encode(msg).finish());
	}
	throw new Error('unexpected content-type ' + ctype);
}

function record(msg, info) {
	let n = 0;
	for (const rs of msg.resourceSpans || []) {
		const res = attrs(rs.resource && rs.resource.attributes);
		for (const ss of rs.scopeSpans || [])
			for (const s of ss.spans || []) {
				const line = {
					traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId),
					traceState: s.traceState || '', name: s.name, kind: s.kind,
					start: String(s.startTimeUnixNano), end: String(s.endTimeUnixNano),
					status: s.status ? (s.status.code || 0) : 0,
					attributes: attrs(s.attributes), resource: res,
					scope: ss.scope ? ss.scope.name : '', ctype: info.ctype, encoding: info.encoding,
				};
				fs.writeSync(spansOut, JSON.stringify(line) + '\n');
				n++;
			}
	}
	return n;
}

function reply(res, status, ctype, body, extra) {
	stats.byStatus[status] = (stats.byStatus[status] || 0) + 1;
	res.writeHead(status, Object.assign({ 'Content-Type': ctype }, extra || {}));
	res.end(body);
}

function okBody(ctype) {
	const msg = partial ? { partialSuccess: { rejectedSpans: partial, errorMessage: 'test receiver rejected some spans' } } : {};
	partial = 0;
	if (ctype.startsWith('application/json'))
		return JSON.stringify(msg.partialSuccess ? { partialSuccess: { rejectedSpans: String(msg.partialSuccess.rejectedSpans), errorMessage: msg.partialSuccess.errorMessage } } : {});
	return Buffer.from(Resp.encode(Resp.fromObject(msg)).finish());
}

function traces(req, res, body) {
	const ctype = req.headers['content-type'] || '';
	const encoding = req.headers['content-encoding'] || '';
	stats.requests++;
	if (fault.count > 0) {
		fault.count--;
		const extra = fault.retryAfter !== '' ? { 'Retry-After': fault.retryAfter } : {};
		fs.writeSync(reqsOut, JSON.stringify({ status: fault.status, ctype, encoding, spans: 0 }) + '\n');
		return reply(res, fault.status, 'application/json',
			JSON.stringify({ code: 3, message: `test receiver answers ${fault.status}` }), extra);
	}
	let msg;
	try {
		const raw = encoding === 'gzip' ? zlib.gunzipSync(body) : body;
		msg = decode(ctype, raw);
	} catch (e) {
		stats.decodeErrors++;
		stats.lastError = String(e && e.message || e);
		fs.writeSync(reqsOut, JSON.stringify({ status: 400, ctype, encoding, error: stats.lastError }) + '\n');
		return reply(res, 400, 'application/json', JSON.stringify({ code: 3, message: 'decode: ' + stats.lastError }));
	}
	const n = record(msg, { ctype, encoding });
	stats.spans += n;
	fs.writeSync(reqsOut, JSON.stringify({ status: 200, ctype, encoding, spans: n }) + '\n');
	reply(res, 200, ctype.startsWith('application/json') ? 'application/json' : 'application/x-protobuf', okBody(ctype));
}

const server = http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	if (req.method === 'GET' && u.pathname === '/stats') {
		res.writeHead(200, { 'Content-Type': 'application/json' });
		return res.end(JSON.stringify(stats));
	}
	if (req.method === 'GET' && u.pathname === '/control') {
		if (u.searchParams.has('status'))
			fault = { status: Number(u.searchParams.get('status')), count: Number(u.searchParams.get('count') || 1),
				  retryAfter: u.searchParams.get('retryAfter') || '' };
		if (u.searchParams.has('partial')) partial = Number(u.searchParams.get('partial'));
		res.writeHead(200, { 'Content-Type': 'application/json' });
		return res.end(JSON.stringify(fault));
	}
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (req.method === 'POST' && u.pathname === '/v1/traces') return traces(req, res, Buffer.concat(chunks));
		reply(res, 404, 'text/plain', 'not found\n');
	});
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log('listening'));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
