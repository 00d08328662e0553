import { analyzeEmotion, type EmotionAnalysis } from "../lib/emotions";

/** Emotion scores of a text over the catalog. */
export default function emotionTask(input: { text: string }): EmotionAnalysis {
  return analyzeEmotion(input.text);
}
