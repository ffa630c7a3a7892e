-- Several instances may append chunks to one document at the same moment; a sequence
-- gives each chunk its own number without a read-modify-write race. It starts above every
-- number already used, so it never collides with an existing (doc_id, seq).
create sequence doc_chunk_seq;
select setval('doc_chunk_seq', (select coalesce(max(seq), 0) + 1 from doc_chunks), false);
