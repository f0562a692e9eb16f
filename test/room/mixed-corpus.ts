/**
 * Chat messages that mix scripts the way Chinese, Japanese and Korean teams
 * write (times, dates, prices, model numbers, brand names, full-width digits,
 * emoji), and what each query must find — exactly: a message not listed must
 * not match. Used by the unit test of search-tokens.ts (real FTS5 in Node) and
 * by the room's search test in workerd.
 */
export const MIXED_CORPUS = [
  "大家好，明天上午10点开会讨论季度报表。",
  "请查看PDF报表和3月份预算",
  "Q3报表已经发出",
  "Q3的报表还没做完",
  "报表Q4已更新",
  "用iPhone拍的照片",
  "iPhone 15拍的照片很清楚",
  "这些iPhone照片太好看了",
  "耳机促销价¥1,299元",
  "那个杯子价格是299元",
  "A301会议室今天下午3点有人吗",
  "明天１０点在Ａ３０１开会",
  "110点积分已到账",
  "2024年3月15日提交",
  "微信里说的Zoom链接在哪",
  "iPhoneで撮った写真を送ります",
  "コーヒーを飲みたい",
  "갤럭시S24로 찍은 사진 보내줘",
  "项目进度👍已完成80%",
  "The Café opens at nine",
] as const;

type Text = (typeof MIXED_CORPUS)[number];

/** query → every message it must find (and no other) */
export const MIXED_QUERIES: Record<string, Text[]> = {
  // Words after digits and letters (the defect: never split out).
  开会: ["大家好，明天上午10点开会讨论季度报表。", "明天１０点在Ａ３０１开会"],
  讨论: ["大家好，明天上午10点开会讨论季度报表。"],
  季度报表: ["大家好，明天上午10点开会讨论季度报表。"],
  月份: ["请查看PDF报表和3月份预算"],
  报表: ["大家好，明天上午10点开会讨论季度报表。", "请查看PDF报表和3月份预算", "Q3报表已经发出", "Q3的报表还没做完", "报表Q4已更新"],
  照片: ["用iPhone拍的照片", "iPhone 15拍的照片很清楚", "这些iPhone照片太好看了"],
  // Letters and digits next to CJK stay words; 2-character ones match whole.
  Q3: ["Q3报表已经发出", "Q3的报表还没做完"],
  q4: ["报表Q4已更新"],
  PDF: ["请查看PDF报表和3月份预算"],
  A301: ["A301会议室今天下午3点有人吗", "明天１０点在Ａ３０１开会"],
  iPhone: ["用iPhone拍的照片", "iPhone 15拍的照片很清楚", "这些iPhone照片太好看了", "iPhoneで撮った写真を送ります"],
  zoom: ["微信里说的Zoom链接在哪"],
  // A query word that mixes scripts is adjacent as typed; a space makes two words.
  Q3报表: ["Q3报表已经发出"],
  "Q3 报表": ["Q3报表已经发出", "Q3的报表还没做完"],
  A301会议室: ["A301会议室今天下午3点有人吗"],
  iPhone照片: ["这些iPhone照片太好看了"],
  "iPhone 照片": ["用iPhone拍的照片", "iPhone 15拍的照片很清楚", "这些iPhone照片太好看了"],
  用iPhone拍: ["用iPhone拍的照片"],
  "15拍": ["iPhone 15拍的照片很清楚"],
  报表Q4: ["报表Q4已更新"],
  表Q4: ["报表Q4已更新"],
  Zoom链接: ["微信里说的Zoom链接在哪"],
  // Times, dates, prices: a number is a whole word, so no match across a boundary the text lacks.
  "10点": ["大家好，明天上午10点开会讨论季度报表。", "明天１０点在Ａ３０１开会"],
  "１０点": ["大家好，明天上午10点开会讨论季度报表。", "明天１０点在Ａ３０１开会"],
  上午10点: ["大家好，明天上午10点开会讨论季度报表。"],
  "3点": ["A301会议室今天下午3点有人吗"],
  "3月": ["请查看PDF报表和3月份预算", "2024年3月15日提交"],
  "3月份预算": ["请查看PDF报表和3月份预算"],
  "3月15日": ["2024年3月15日提交"],
  "1299元": ["耳机促销价¥1,299元"],
  "¥1,299元": ["耳机促销价¥1,299元"],
  "299元": ["那个杯子价格是299元"],
  "80": ["项目进度👍已完成80%"],
  已完成: ["项目进度👍已完成80%"],
  // Japanese kana next to Latin, Korean.
  写真: ["iPhoneで撮った写真を送ります"],
  iPhoneで: ["iPhoneで撮った写真を送ります"],
  撮った: ["iPhoneで撮った写真を送ります"],
  コーヒー: ["コーヒーを飲みたい"],
  ヒー: ["コーヒーを飲みたい"],
  사진: ["갤럭시S24로 찍은 사진 보내줘"],
  갤럭시: ["갤럭시S24로 찍은 사진 보내줘"],
  S24: ["갤럭시S24로 찍은 사진 보내줘"],
  // Unchanged: accents, English prefixes.
  cafe: ["The Café opens at nine"],
  OPE: ["The Café opens at nine"],
};
