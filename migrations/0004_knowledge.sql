-- knowledge_cache: the durable second tier of the knowledge cache. It survives a Redis restart and
-- answers while Redis is down. Keyed by the normalized query (with domain and k) and the dataset
-- version the answer was made from.
CREATE TABLE knowledge_cache (
  query_hash text NOT NULL,
  dataset_version bigint NOT NULL,
  query_text text NOT NULL,
  domain text,
  response jsonb NOT NULL,
  source text NOT NULL CHECK (source IN ('dataset', 'llm')),
  created_at timestamptz NOT NULL DEFAULT now(),
  accessed_at timestamptz NOT NULL DEFAULT now(),
  access_count integer NOT NULL DEFAULT 1,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (query_hash, dataset_version)
);
CREATE INDEX knowledge_cache_popular ON knowledge_cache (access_count DESC) ;
CREATE INDEX knowledge_cache_expires ON knowledge_cache (expires_at);

-- emotions: the catalog of emotions with their frequencies and personality templates (the same
-- values as compute/lib/emotions.ts; a test checks that they agree).
-- neuroscience_hz: the EEG band most associated with the state, at a representative point of the
-- band (delta < 4, theta 4-8, alpha 8-13, beta 13-30, gamma > 30 Hz). Sources for the associations:
--   Klimesch W. (1999) EEG alpha and theta oscillations reflect cognitive and memory performance.
--     Brain Research Reviews 29:169-195 (alpha with relaxed wakefulness, theta with absorption).
--   Aftanas L.I., Golocheikine S.A. (2001) Human anterior and frontal midline theta and lower alpha
--     reflect emotionally positive state and internalized attention. Neurosci. Lett. 310:57-60.
--   Engel A.K., Fries P. (2010) Beta-band oscillations: signalling the status quo? Curr. Opin.
--     Neurobiol. 20:156-165 (beta with arousal and active engagement).
--   Knyazev G.G. (2007) Motivation, emotion, and their inhibitory control mirrored in brain
--     oscillations. Neurosci. Biobehav. Rev. 31:377-395 (high beta with anxiety, anger).
--   Keil A. et al. (2001) Effects of emotional arousal in the cerebral hemispheres: a study of
--     oscillatory brain activity. Psychophysiology 38:847-857 (gamma with sudden salience).
-- metaphysical_hz: MC AI's mapping onto the Solfeggio scale (174, 285, 396, 417, 528, 639, 741,
-- 852, 963 Hz) as popularized by Horowitz L. & Puleo J. (1999) "Healing Codes for the Biological
-- Apocalypse": a product convention of the app, not a physical or clinical claim.
CREATE TABLE emotions (
  name text PRIMARY KEY,
  neuroscience_hz real NOT NULL,
  band text NOT NULL CHECK (band IN ('delta', 'theta', 'alpha', 'beta', 'gamma')),
  metaphysical_hz real NOT NULL,
  counterpart text NOT NULL,
  personality text NOT NULL,
  music jsonb NOT NULL
);

INSERT INTO emotions (name, neuroscience_hz, band, metaphysical_hz, counterpart, personality, music) VALUES
  ('joy', 14, 'beta', 528, 'sadness', 'bright, warm and encouraging; celebrates with the user', '{"mode":"major","tempo":124,"root":60,"progression":[0,4,5,3]}'::jsonb),
  ('sadness', 5, 'theta', 285, 'joy', 'gentle and patient; acknowledges the loss before offering help', '{"mode":"minor","tempo":68,"root":57,"progression":[0,5,3,4]}'::jsonb),
  ('anger', 22, 'beta', 741, 'calm', 'steady and direct; lowers the temperature without dismissing', '{"mode":"phrygian","tempo":138,"root":52,"progression":[0,1,0,6]}'::jsonb),
  ('fear', 25, 'beta', 396, 'trust', 'reassuring and concrete; names what is safe and what to do next', '{"mode":"minor","tempo":96,"root":55,"progression":[0,1,5,4]}'::jsonb),
  ('love', 8, 'alpha', 639, 'disgust', 'tender and generous; speaks of connection', '{"mode":"lydian","tempo":84,"root":62,"progression":[0,1,4,0]}'::jsonb),
  ('calm', 10, 'alpha', 174, 'anger', 'slow, spacious and quiet; few words', '{"mode":"major","tempo":60,"root":53,"progression":[0,3,0,4]}'::jsonb),
  ('surprise', 40, 'gamma', 852, 'anticipation', 'curious and lively; explores the unexpected', '{"mode":"lydian","tempo":132,"root":64,"progression":[0,2,1,4]}'::jsonb),
  ('disgust', 20, 'beta', 741, 'love', 'clear about boundaries; turns to what is clean and good', '{"mode":"phrygian","tempo":90,"root":50,"progression":[0,1,3,1]}'::jsonb),
  ('trust', 12, 'alpha', 639, 'fear', 'reliable and plain-spoken; keeps promises small and exact', '{"mode":"mixolydian","tempo":100,"root":58,"progression":[0,6,3,0]}'::jsonb),
  ('anticipation', 18, 'beta', 417, 'surprise', 'forward-looking and energetic; plans the next step', '{"mode":"dorian","tempo":112,"root":59,"progression":[0,3,6,4]}'::jsonb),
  ('gratitude', 10, 'alpha', 639, 'anger', 'appreciative and humble; gives credit', '{"mode":"major","tempo":76,"root":55,"progression":[0,3,4,0]}'::jsonb),
  ('awe', 6, 'theta', 963, 'disgust', 'expansive and wondering; makes room for the vast', '{"mode":"lydian","tempo":56,"root":48,"progression":[0,4,1,0]}'::jsonb);
