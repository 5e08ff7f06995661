-- Sample rows, so the README's and GET /docs' db() examples return real data in `npm run dev` and the tests.

INSERT INTO things (ns, type, id, data, created_at, updated_at) VALUES
  ('wiki', 'Article', 'workers', '{"title":"Cloudflare Workers","tags":["serverless","edge"],"views":1520,"published":true}', '2026-01-05T09:00:00.000Z', '2026-03-01T10:00:00.000Z'),
  ('wiki', 'Article', 'durable-objects', '{"title":"Durable Objects","tags":["state","edge"],"views":980,"published":true}', '2026-01-12T09:00:00.000Z', '2026-02-10T10:00:00.000Z'),
  ('wiki', 'Article', 'd1', '{"title":"D1","tags":["sql","sqlite"],"views":870,"published":true}', '2026-01-19T09:00:00.000Z', '2026-01-19T09:00:00.000Z'),
  ('wiki', 'Article', 'worker-loader', '{"title":"Worker Loader","tags":["isolates","sandbox"],"views":430,"published":true}', '2026-02-02T09:00:00.000Z', '2026-02-02T09:00:00.000Z'),
  ('wiki', 'Article', 'workers-ai', '{"title":"Workers AI","tags":["ai","inference"],"views":1210,"published":false}', '2026-02-16T09:00:00.000Z', '2026-02-16T09:00:00.000Z'),
  ('wiki', 'Category', 'platform', '{"title":"Platform","articles":["workers","durable-objects","d1"]}', '2026-01-05T09:00:00.000Z', '2026-01-05T09:00:00.000Z'),
  ('wiki', 'Category', 'ai', '{"title":"AI","articles":["workers-ai"]}', '2026-02-16T09:00:00.000Z', '2026-02-16T09:00:00.000Z'),
  ('shop', 'Product', 'p-100', '{"name":"Edge T-shirt","price":25,"currency":"USD","stock":120}', '2026-01-08T12:00:00.000Z', '2026-01-08T12:00:00.000Z'),
  ('shop', 'Product', 'p-101', '{"name":"Isolate Mug","price":12.5,"currency":"USD","stock":0}', '2026-01-09T12:00:00.000Z', '2026-01-09T12:00:00.000Z'),
  ('shop', 'Product', 'p-102', '{"name":"Sticker Pack","price":5,"currency":"USD","stock":900}', '2026-01-10T12:00:00.000Z', '2026-01-10T12:00:00.000Z'),
  ('shop', 'Order', 'o-1', '{"product":"p-100","quantity":2,"status":"shipped"}', '2026-02-01T15:30:00.000Z', '2026-02-03T08:00:00.000Z'),
  ('shop', 'Order', 'o-2', '{"product":"p-102","quantity":10,"status":"pending"}', '2026-02-05T15:30:00.000Z', '2026-02-05T15:30:00.000Z');
