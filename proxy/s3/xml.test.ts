// The one XML parser configuration: character references decoded once, values kept as strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Error } from './errors.ts';
import { decodeXmlText, parseXml, xmlParser } from './xml.ts';
import { parseListObjectsV2 } from '../backends/s3/xml.ts';

test('character references and the predefined entities decode, once', () => {
  assert.equal(decodeXmlText('a&#34;b&#39;c&#x27;d&#X22;'.replace('&#X22;', '&#x22;')), 'a"b\'c\'d"');
  assert.equal(decodeXmlText('&amp;&lt;&gt;&quot;&apos;'), '&<>"\'');
  assert.equal(decodeXmlText('&amp;#34;'), '&#34;');
  assert.equal(decodeXmlText('&#128512;&#x1F600;&#1;'), '😀😀\u0001');
  for (const bad of ['&nbsp;', '&#0;', '&#xD800;', '&#x110000;', '& b', '&#34']) assert.throws(() => decodeXmlText(bad), bad);
});

test('request bodies: Go-style references in a Delete and a Complete document decode; bad ones are MalformedXML', () => {
  const del = parseXml('<Delete><Object><Key>it&#39;s &#34;quoted&#34;</Key></Object><Object><Key>0012</Key></Object></Delete>', 'Delete');
  assert.deepEqual((del.Object as { Key: string }[]).map((o) => o.Key), ['it\'s "quoted"', '0012']);
  const done = parseXml('<CompleteMultipartUpload><Part><ETag>&#34;abc&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>', 'CompleteMultipartUpload');
  assert.equal((done.Part as { ETag: string }[])[0]!.ETag, '"abc"');
  assert.throws(() => parseXml('<Delete><Object><Key>&nbsp;</Key></Object></Delete>', 'Delete'), (e) => e instanceof S3Error && e.code === 'MalformedXML');
});

test('backend replies go through the same configuration', () => {
  const page = parseListObjectsV2('<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&#39;b</Key><Size>1</Size><ETag>&#34;e&#34;</ETag></Contents></ListBucketResult>', false);
  assert.equal(page.objects[0]!.key, "a'b");
  assert.equal(page.objects[0]!.etag, 'e');
  assert.deepEqual(xmlParser(['X']).parse('<R><X>1</X></R>'), { R: { X: ['1'] } });
});
