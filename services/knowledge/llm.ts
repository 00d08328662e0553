/** The OpenAI-compatible chat completions call that writes an answer from the matches. */
import type { KnowledgeSettings } from "../lib/config";
import { postOpenAi } from "../lib/openai-http";

export interface Match {
  id: string;
  domain: string;
  content: string;
  response: string | null;
  score: number;
}

export function llmMessages(query: string, matches: Match[], personality: string): { role: string; content: string }[] {
  const sources = matches
    .map((m, i) => `[${i + 1}] (${m.domain}) ${m.content}${m.response ? `\n    ${m.response}` : ""}`)
    .join("\n");
  return [
    {
      role: "system",
      content: `You are MC AI. Tone: ${personality}. Answer from the sources only, briefly, citing them as [n].`,
    },
    { role: "user", content: `Question: ${query}\n\nSources:\n${sources}` },
  ];
}

/** @throws on timeout, HTTP errors and malformed answers. */
export async function complete(s: KnowledgeSettings, messages: { role: string; content: string }[]): Promise<string> {
  if (!s.llmUrl) throw new Error("LLM_URL is not set");
  const endpoint = { url: s.llmUrl, key: s.llmKey, timeoutMs: s.llmTimeoutMs };
  const body = (await postOpenAi("LLM", endpoint, "chat/completions", {
    model: s.llmModel,
    messages,
    temperature: 0.2,
  })) as { choices?: { message?: { content?: string } }[] };
  const text = body.choices?.[0]?.message?.content;
  if (typeof text !== "string" || !text.trim()) throw new Error("LLM endpoint answered no text");
  return text.trim();
}
